import { choleskyLower } from '@mc/ir';
import { type BlockQuantized, blockBuffers, blockParams, blockRange } from './block.js';
import { roundHalfEven } from './qparams.js';

/**
 * Second-order statistics of a layer's input on calibration data: `H = Σ x xᵀ` over every calibration row x (K
 * values). The output error of replacing a weight W [N, K] by Ŵ is then
 * `Σ_rows ‖(W - Ŵ) x‖² = Σ_n δ_nᵀ H δ_n` with δ_n = W[n] - Ŵ[n], so methods can compare candidates without the data.
 */
export interface InputGram {
  /** K×K, row-major, symmetric. */
  readonly h: Float64Array;
  readonly k: number;
}

/** `Σ_n δ_nᵀ H δ_n` for δ = a - b, both [N, K] row-major: the summed squared output error over the calibration rows. */
export function outputError(a: Float32Array, b: Float32Array, n: number, gram: InputGram): number {
  const { h, k } = gram;
  const d = new Float64Array(k);
  let total = 0;
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < k; i++) d[i] = a[r * k + i]! - b[r * k + i]!;
    for (let i = 0; i < k; i++) {
      const di = d[i]!;
      if (di === 0) continue;
      let s = 0;
      const row = i * k;
      for (let j = 0; j < k; j++) s += h[row + j]! * d[j]!;
      total += di * s;
    }
  }
  return total;
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU) with H dampened by `damp` × mean(diag H), as GPTQ uses it: row i of U
 * gives how the error of quantizing input channel i is spread over the channels after it. Channels that never fire
 * (H_ii = 0) get H_ii = 1. Dampening grows ×10 until H is positive definite.
 */
function inverseCholeskyUpper(gram: InputGram, damp: number): Float64Array {
  const { k } = gram;
  let mean = 0;
  for (let i = 0; i < k; i++) mean += gram.h[i * k + i]!;
  mean = mean / k || 1;
  for (let lambda = damp; ; lambda *= 10) {
    const l = Float64Array.from(gram.h);
    for (let i = 0; i < k; i++) {
      if (l[i * k + i] === 0) l[i * k + i] = 1;
      l[i * k + i] = l[i * k + i]! + lambda * mean;
    }
    if (!choleskyLower(l, k)) continue;
    // H⁻¹ = L⁻ᵀ L⁻¹: invert L (lower) column by column, then form the product.
    const inv = new Float64Array(k * k);
    for (let c = 0; c < k; c++) {
      inv[c * k + c] = 1 / l[c * k + c]!;
      for (let i = c + 1; i < k; i++) {
        let s = 0;
        for (let p = c; p < i; p++) s += l[i * k + p]! * inv[p * k + c]!;
        inv[i * k + c] = -s / l[i * k + i]!;
      }
    }
    const hinv = new Float64Array(k * k);
    for (let i = 0; i < k; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = i; p < k; p++) s += inv[p * k + i]! * inv[p * k + j]!;
        hinv[i * k + j] = s;
        hinv[j * k + i] = s;
      }
    }
    if (!choleskyLower(hinv, k)) continue;
    // Upper factor = transpose of the lower one.
    const u = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = i; j < k; j++) u[i * k + j] = hinv[j * k + i]!;
    return u;
  }
}

/**
 * GPTQ (Frantar et al. 2022, https://arxiv.org/abs/2210.17323) for 4-bit blocks along K: input channels are quantized
 * in order, and the rounding error of channel i is compensated on the channels after it through the inverse Hessian
 * (`W[:, j] -= err_i · U[i, j] / U[i, i]`). Each block's scale (and zero point) is fixed from the partly updated weights
 * when the block starts, as in the reference implementation's grouping. `data` is [rows = N, cols = K].
 *
 * @example
 * const r = gptqBlocks(wT, n, k, 32, true, gram, 0.01);
 */
export function gptqBlocks(
  data: Float32Array,
  rows: number,
  cols: number,
  blockSize: number,
  symmetric: boolean,
  gram: InputGram,
  damp = 0.01,
): BlockQuantized {
  const k = cols;
  const u = inverseCholeskyUpper(gram, damp);
  const w = Float64Array.from(data);
  const { nb, q, scales, zeroPoints } = blockBuffers(rows, cols, blockSize);
  let maxAbsError = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    let scale = 1;
    let zp = 8;
    for (let i = 0; i < k; i++) {
      if (i % blockSize === 0) {
        const b = i / blockSize;
        const end = Math.min(k, i + blockSize);
        const [lo, hi] = blockRange(w, base + i, base + end);
        [scale, zp] = blockParams(lo, hi, symmetric);
        scales[r * nb + b] = scale;
        zeroPoints[r * nb + b] = zp;
      }
      const x = w[base + i]!;
      let v = roundHalfEven(x / scale) + zp;
      v = v < 0 ? 0 : v > 15 ? 15 : v;
      q[base + i] = v;
      const deq = (v - zp) * scale;
      const e = Math.abs(deq - data[base + i]!);
      if (e > maxAbsError) maxAbsError = e;
      const err = (x - deq) / u[i * k + i]!;
      const urow = i * k;
      for (let j = i + 1; j < k; j++) w[base + j] = w[base + j]! - err * u[urow + j]!;
    }
  }
  return { q, scales, zeroPoints, blocksPerRow: nb, maxAbsError };
}
