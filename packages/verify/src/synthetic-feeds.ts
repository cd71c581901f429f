import { type DType, type Model, namedInput, seededRandom, Tensor, type Value } from '@mc/ir';
import type { Feeds } from './run-model.js';
import { assertFeedSize } from './random-feeds.js';

/** Options of {@link syntheticFeeds}. */
export interface SyntheticFeedOptions {
  /**
   * Pixel scale the model was trained with (`--scale`): float inputs are uniform in [0, 255·scale]. Default: [0, 1]
   * (the 1/255 every image loader in mc uses by default).
   */
  scale?: number;
  /** Size of symbolic or unknown dimensions (batch, sequence). Default 2. */
  dynamicDim?: number;
}

/** Exclusive upper bound of an integer input: the table size when it indexes a constant table (Gather), else 10. */
function intBound(v: Value): number {
  for (const u of v.uses()) {
    if (u.node.opType !== 'Gather' || namedInput(u.node, 'indices') !== v) continue;
    const data = namedInput(u.node, 'data')?.constValue;
    const axisAttr = u.node.attributes.get('axis');
    const axis = axisAttr?.type === 'INT' ? Number(axisAttr.value) : 0;
    const d = data?.dims[axis < 0 ? axis + data.dims.length : axis];
    if (d !== undefined && d > 0) return d;
  }
  return 10;
}

function tensorOf(dtype: DType, dims: number[], u: () => number, hi: number, bound: number): Tensor | undefined {
  const n = dims.reduce((a, b) => a * b, 1);
  const int = (): number => Math.floor(u() * bound);
  switch (dtype) {
    case 'float32':
      return new Tensor(
        'float32',
        dims,
        Float32Array.from({ length: n }, () => u() * hi),
      );
    case 'float64':
      return new Tensor(
        'float64',
        dims,
        Float64Array.from({ length: n }, () => u() * hi),
      );
    case 'float16':
      return undefined;
    case 'int64':
      return new Tensor(
        'int64',
        dims,
        BigInt64Array.from({ length: n }, () => BigInt(int())),
      );
    case 'int32':
      return new Tensor('int32', dims, Int32Array.from({ length: n }, int));
    case 'int8':
      return new Tensor(
        'int8',
        dims,
        Int8Array.from({ length: n }, () => Math.min(127, int())),
      );
    case 'uint8':
      return new Tensor(
        'uint8',
        dims,
        Uint8Array.from({ length: n }, () => Math.min(255, int())),
      );
    case 'bool':
      return new Tensor(
        'bool',
        dims,
        Uint8Array.from({ length: n }, () => (u() < 0.5 ? 0 : 1)),
      );
    default:
      return undefined;
  }
}

/**
 * Seeded inputs that respect each graph input's type and range, for verification without data: floats uniform in
 * [0, 1] (images as mc's loaders scale them) or [0, 255·scale]; integer inputs that index a constant table (token ids
 * into an embedding) uniform in [0, table size), other integers in [0, 10); bools 0/1. An input of another type
 * (float16, strings) gets none, and the caller says so.
 *
 * @example
 * ```ts
 * const feeds = syntheticFeeds(model, 0, { scale: 1 / 255 });
 * ```
 */
export function syntheticFeeds(model: Model, seed: number, opts: SyntheticFeedOptions = {}): Feeds {
  const feeds: Feeds = {};
  const hi = opts.scale === undefined ? 1 : 255 * opts.scale;
  let s = seed * 7919;
  for (const v of model.graph.inputs) {
    if (v.constValue !== undefined || model.graph.initializers.has(v.name)) continue;
    const dims = (v.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : (opts.dynamicDim ?? 2)));
    assertFeedSize(v.name, dims);
    const t = tensorOf(v.dtype ?? 'float32', dims, seededRandom(s++), hi, intBound(v));
    if (t !== undefined) feeds[v.name] = t;
  }
  return feeds;
}
