import type { DType } from './dtype.js';
import { Tensor } from './tensor.js';

// Seeded generators: the same seed gives the same numbers on every machine (k-means++ seeding, sketches,
// shuffles, test data), which Math.random cannot.

/**
 * A seeded uniform random generator in [0, 1) (mulberry32): same seed, same sequence.
 *
 * @example
 * ```ts
 * const rand = seededRandom(42); rand(); // 0.6011...
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A standard-normal seeded generator (Box–Muller over {@link seededRandom}).
 *
 * @example
 * ```ts
 * const randn = seededNormal(1); randn();
 * ```
 */
export function seededNormal(seed: number): () => number {
  const u = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

/** Where {@link filledTensor} takes its elements from, per kind of dtype. */
export interface ElementSource {
  /** Next float element. */
  readonly float: () => number;
  /** Next integer element (clamped to int8/uint8 range for those dtypes). */
  readonly int: () => number;
  /** Next uniform number in [0, 1): a bool is 1 from 0.5 on. */
  readonly uniform: () => number;
}

/**
 * A tensor of `dtype` filled element by element from `src`, or undefined for a dtype it does not fill (float16,
 * strings): the one place random test tensors and synthetic verification inputs are laid out.
 *
 * @example
 * ```ts
 * const u = seededRandom(1);
 * filledTensor('int64', [2, 3], { float: u, int: () => Math.floor(u() * 10), uniform: u });
 * ```
 */
export function filledTensor(dtype: DType, dims: readonly number[], src: ElementSource): Tensor | undefined {
  const n = dims.reduce((a, b) => a * b, 1);
  switch (dtype) {
    case 'float32':
      return new Tensor('float32', dims, Float32Array.from({ length: n }, src.float));
    case 'float64':
      return new Tensor('float64', dims, Float64Array.from({ length: n }, src.float));
    case 'int64':
      return new Tensor(
        'int64',
        dims,
        BigInt64Array.from({ length: n }, () => BigInt(src.int())),
      );
    case 'int32':
      return new Tensor('int32', dims, Int32Array.from({ length: n }, src.int));
    case 'int8':
      return new Tensor(
        'int8',
        dims,
        Int8Array.from({ length: n }, () => Math.min(127, src.int())),
      );
    case 'uint8':
      return new Tensor(
        'uint8',
        dims,
        Uint8Array.from({ length: n }, () => Math.min(255, src.int())),
      );
    case 'bool':
      return new Tensor(
        'bool',
        dims,
        Uint8Array.from({ length: n }, () => (src.uniform() < 0.5 ? 0 : 1)),
      );
    default:
      return undefined;
  }
}
