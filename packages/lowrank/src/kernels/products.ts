/**
 * Large products of the Tucker-2 path, sent to a {@link MatmulEngine} (tfjs-backend-wasm: XNNPACK, SIMD, float32)
 * when one is given and the product is big enough to pay for the copies; small ones stay in the f64 JS matmul, so
 * layers of MNIST size give the same numbers with or without the optional engine. Measured on a 512x512x3x3 kernel:
 * the wasm engine computes U_outᵀ·W 3-10x faster than the JS matmul (shared 2-core machine); float32 rounding (~1e-7
 * relative) is far below any error bound a user sets and below the float32 weights mc writes.
 * @internal
 */
import type { MatmulEngine } from './engine.js';
import { gramRows, matmul, transpose } from './matmul.js';

/** Multiply-adds from which a product goes to the engine. @internal */
export const ENGINE_MIN_MACS = 1 << 26;

function useEngine(engine: MatmulEngine | undefined, macs: number): engine is MatmulEngine {
  return engine !== undefined && engine.name !== 'js' && macs >= ENGINE_MIN_MACS;
}

/** C (m x n) = A (m x k) · B (k x n). @internal */
export function product(a: Float64Array, b: Float64Array, m: number, k: number, n: number, engine?: MatmulEngine): Float64Array {
  if (!useEngine(engine, m * k * n)) return matmul(a, b, m, k, n);
  const bound = engine.bind(a.length === m * k ? a : a.subarray(0, m * k), m, k);
  try {
    return bound.mul(b.length === k * n ? b : b.subarray(0, k * n), n);
  } finally {
    bound.dispose();
  }
}

/** A·Aᵀ (m x m, symmetric) of a row-major m x n matrix. @internal */
export function gram(a: Float64Array, m: number, n: number, engine?: MatmulEngine): Float64Array {
  if (!useEngine(engine, m * m * n)) return gramRows(a, m, n);
  const g = product(a, transpose(a, m, n), m, n, m, engine);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < i; j++) {
      const v = (g[i * m + j] + g[j * m + i]) / 2;
      g[i * m + j] = v;
      g[j * m + i] = v;
    }
  return g;
}
