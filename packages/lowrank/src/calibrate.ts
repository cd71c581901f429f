/**
 * Data-aware (whitened) SVD for dense layers.
 *
 * With X the layer inputs on calibration data and C = XᵀX, the rank-k Ŵ minimising ‖X·W − X·Ŵ‖_F is
 * L⁻¹·[L·W]_k with L = C^{1/2} (the whitened SVD). Since the truncation [L·W]_k = L·W·V_k·V_kᵀ, where V_k are the top
 * right singular vectors of L·W, i.e. the top eigenvectors of (L·W)ᵀ(L·W) = Wᵀ·C·W = YᵀY with Y = X·W, the optimum
 * is Ŵ = W·V_k·V_kᵀ. So only the out x out covariance of the layer's (bias-free) outputs is needed, never the
 * in x in input covariance (9216² for mnist_cnn's Dense): factors A = W·V_k, B = V_kᵀ, and the relative output error
 * at rank k is √(Σ_{i≥k} λᵢ / Σ λᵢ) from the eigenvalues λ of YᵀY.
 * @internal
 */
import { attrOf, McError, type Model, slotOf, type Tensor } from '@mc/ir';
import type { Feeds } from '@mc/verify';
import { eigh } from './kernels/eigh.js';
import { gramRows, matmul, transpose } from './kernels/matmul.js';
import type { DenseLayer } from './rules/types.js';

/** Output-space spectrum of a dense layer on calibration data. @internal */
export interface OutputSpectrum {
  /** eigenvalues of YᵀY, decreasing */
  values: Float64Array;
  /** eigenvectors as rows (out x out) */
  vectors: Float64Array;
  /** rows of Y seen */
  samples: number;
}

/**
 * Runs `model` in onnxruntime-node on every feed set of `calibration` with the dense layers' inputs exposed as
 * outputs, and returns the output-space spectrum of each layer. Layers whose input is not [..., in] are left out.
 * @internal
 */
export async function outputSpectra(
  model: Model,
  layers: DenseLayer[],
  calibration: Iterable<Feeds> | AsyncIterable<Feeds>,
  signal?: AbortSignal,
): Promise<Map<DenseLayer, OutputSpectrum>> {
  const probe = model.clone();
  const byName = new Map([...probe.graph.values()].map((v) => [v.name, v]));
  const wanted = new Map<DenseLayer, string>();
  for (const l of layers) {
    if (l.node.opType === 'Gemm' && attrOf(l.node, 'transA') === 1) continue;
    const name = slotOf(l.node, 'A')?.name;
    const v = name === undefined ? undefined : byName.get(name);
    if (v === undefined) continue;
    wanted.set(l, v.name);
    if (!v.isGraphInput() && !v.isGraphOutput()) {
      if (v.dtype === undefined) v.dtype = l.dtype;
      probe.graph.addOutput(v);
    }
  }
  const acc = new Map<DenseLayer, { m: Float64Array; samples: number }>();
  for (const l of wanted.keys()) acc.set(l, { m: new Float64Array(l.cols * l.cols), samples: 0 });
  // onnxruntime-node loads only when calibration is asked for.
  const { createSession } = await import('@mc/verify');
  const session = await createSession(probe);
  let batches = 0;
  try {
    for await (const feeds of calibration) {
      signal?.throwIfAborted();
      const res = await session.run(feeds);
      for (const [l, name] of wanted) {
        const t: Tensor | undefined = res[name] ?? feeds[name];
        if (t === undefined) continue;
        const x = Float64Array.from(t.data as Float32Array);
        const rows = x.length / l.rows;
        if (!Number.isInteger(rows) || t.dims[t.dims.length - 1] !== l.rows) continue;
        const y = matmul(x, l.w, rows, l.rows, l.cols);
        const g = gramRows(transpose(y, rows, l.cols), l.cols, rows);
        const a = acc.get(l)!;
        for (let i = 0; i < g.length; i++) a.m[i] += g[i];
        a.samples += rows;
      }
      batches++;
    }
  } finally {
    await session.release();
  }
  if (batches === 0) throw new McError('E_OPTION', 'calibration yielded no feeds; pass at least one batch of model inputs');
  const out = new Map<DenseLayer, OutputSpectrum>();
  for (const [l, a] of acc) {
    if (a.samples === 0) continue;
    const e = eigh(a.m, l.cols);
    out.set(l, { values: e.values.map((v) => Math.max(v, 0)), vectors: e.vectors, samples: a.samples });
  }
  return out;
}

/** Relative output error √(Σ_{i≥k} λᵢ / Σ λᵢ) at every k = 0..n. @internal */
export function outputErrorCurve(values: Float64Array): Float64Array {
  let total = 0;
  for (const v of values) total += v;
  const out = new Float64Array(values.length + 1);
  let tail = total;
  for (let k = 0; k <= values.length; k++) {
    out[k] = total > 0 ? Math.sqrt(Math.max(tail, 0) / total) : 0;
    if (k < values.length) tail -= values[k];
  }
  return out;
}

/** Factors A = W·V_k (in x k), B = V_kᵀ (k x out). @internal */
export function calibratedFactors(l: DenseLayer, s: OutputSpectrum, k: number): { a: Float64Array; b: Float64Array } {
  const b = s.vectors.slice(0, k * l.cols);
  const a = matmul(l.w, transpose(b, k, l.cols), l.rows, l.cols, k);
  return { a, b };
}
