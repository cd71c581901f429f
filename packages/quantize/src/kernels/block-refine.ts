import { type BlockQuantized, blockBuffers, blockRange, quantizeBlocks } from './block.js';
import { type InputGram, outputError } from './gptq.js';
import { roundHalfEven } from './qparams.js';

/** Squared error of quantizing x[s..e) with (scale, zp) and the codes that go with it. */
function blockError(x: Float32Array, s: number, e: number, scale: number, zp: number, out?: Uint8Array): number {
  let err = 0;
  for (let i = s; i < e; i++) {
    let v = roundHalfEven(x[i]! / scale) + zp;
    v = v < 0 ? 0 : v > 15 ? 15 : v;
    if (out !== undefined) out[i] = v;
    const d = (v - zp) * scale - x[i]!;
    err += d * d;
  }
  return err;
}

/**
 * Data-free refinement of 4-bit block parameters (the idea of HQQ, https://mobiusml.github.io/hqq_blog/: optimise the
 * quantization parameters of each block instead of taking them from its min/max). Per block: a search over clipping
 * ratios 1.0 … 0.5 of the min/max range (each end on its own when asymmetric), then alternating least squares — codes for the current (scale, zero point),
 * then the (scale, offset) that best fit those codes, the zero point rounded back to the integer grid — keeping the
 * best iterate. The block's squared error is never above round-to-nearest's (ratio 1.0 is the RTN candidate).
 *
 * @example
 * const r = refineBlocks(wT, n, k, 32, false);
 */
export function refineBlocks(
  data: Float32Array,
  rows: number,
  cols: number,
  blockSize: number,
  symmetric: boolean,
  iterations = 10,
): BlockQuantized {
  const { nb, q, scales, zeroPoints } = blockBuffers(rows, cols, blockSize);
  let maxAbsError = 0;
  const codes = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const s = r * cols + b * blockSize;
      const e = r * cols + Math.min(cols, (b + 1) * blockSize);
      const [lo, hi] = blockRange(data, s, e);
      // Clipped ranges: both ends shrunk alike (symmetric), or each end on its own (asymmetric).
      const params = (rLo: number, rHi: number): [number, number] => {
        if (symmetric) {
          const sc = Math.fround((Math.max(-lo, hi) * rHi) / 7);
          return [sc > 0 ? sc : 1, 8];
        }
        const sc = Math.fround((hi * rHi - lo * rLo) / 15);
        if (!(sc > 0)) return [1, 0];
        return [sc, Math.max(0, Math.min(15, roundHalfEven((-lo * rLo) / sc)))];
      };
      let [bs, bz] = params(1, 1);
      let best = blockError(data, s, e, bs, bz);
      for (let i = 0; i <= 10; i++) {
        for (let j = symmetric ? i : 0; j <= (symmetric ? i : 10); j++) {
          if (i === 0 && j === 0) continue;
          const [sc, z] = params(1 - 0.05 * j, 1 - 0.05 * i);
          const err = blockError(data, s, e, sc, z);
          if (err < best) [best, bs, bz] = [err, sc, z];
        }
      }
      // Alternating least squares: fit x ≈ a·q + c on the current codes, then re-round.
      let [sc, z] = [bs, bz];
      for (let it = 0; it < iterations; it++) {
        blockError(data, s, e, sc, z, codes);
        let n = 0;
        let sq = 0;
        let sx = 0;
        let sqq = 0;
        let sqx = 0;
        for (let i = s; i < e; i++) {
          const c = codes[i]!;
          const x = data[i]!;
          n++;
          sq += c;
          sx += x;
          sqq += c * c;
          sqx += c * x;
        }
        let a: number;
        if (symmetric) {
          // zero point fixed at 8: x ≈ a·(q - 8)
          let num = 0;
          let den = 0;
          for (let i = s; i < e; i++) {
            const c = codes[i]! - 8;
            num += c * data[i]!;
            den += c * c;
          }
          if (!(den > 0)) break;
          a = num / den;
        } else {
          const den = n * sqq - sq * sq;
          if (!(den > 0)) break;
          a = (n * sqx - sq * sx) / den;
          const c0 = (sx - a * sq) / n;
          if (!(a > 0)) break;
          z = Math.max(0, Math.min(15, roundHalfEven(-c0 / a)));
        }
        if (!(a > 0)) break;
        sc = Math.fround(a);
        const err = blockError(data, s, e, sc, z);
        if (err < best) [best, bs, bz] = [err, sc, z];
        else if (err >= best) break;
      }
      scales[r * nb + b] = bs;
      zeroPoints[r * nb + b] = bz;
      blockError(data, s, e, bs, bz, q);
      for (let i = s; i < e; i++) {
        const d = Math.abs((q[i]! - bz) * bs - data[i]!);
        if (d > maxAbsError) maxAbsError = d;
      }
    }
  }
  return { q, scales, zeroPoints, blocksPerRow: nb, maxAbsError };
}

/** Dequantizes block codes back to [rows, cols] floats. */
export function dequantizeBlocks(r: BlockQuantized, rows: number, cols: number, blockSize: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const b = i * r.blocksPerRow + Math.floor(j / blockSize);
      out[i * cols + j] = (r.q[i * cols + j]! - r.zeroPoints[b]!) * r.scales[b]!;
    }
  }
  return out;
}

/** An activation-aware scaling: the weight to quantize is W·diag(s), and the layer's input is multiplied by 1/s. */
export interface AwqResult {
  readonly quantized: BlockQuantized;
  /** Per input channel (K) factor the activation is multiplied by at run time: 1/s. */
  readonly inputScale: Float32Array;
  /** The exponent chosen: s = rms(x)^alpha, normalised. */
  readonly alpha: number;
  /** Output error (Σ over calibration rows) of RTN and of the chosen scaling. */
  readonly errorRtn: number;
  readonly errorChosen: number;
}

/**
 * Activation-aware weight scaling (AWQ, Lin et al. 2023, https://arxiv.org/abs/2306.00978): input channels that carry
 * large activations are scaled up in the weight before rounding (s_k = rms(x_k)^α) and the activation is divided by
 * the same factor, so their weights lose less precision. α ∈ {0, 0.05, …, 1} is chosen per layer by the output error on
 * the calibration rows, computed exactly from `H = Σ x xᵀ` on up to 64 output rows (α = 0 is plain round-to-nearest),
 * then checked on all rows. `data` is [N, K].
 *
 * @example
 * const r = awqBlocks(wT, n, k, 32, true, gram);
 */
export function awqBlocks(
  data: Float32Array,
  rows: number,
  cols: number,
  blockSize: number,
  symmetric: boolean,
  gram: InputGram,
): AwqResult {
  const k = cols;
  const rms = new Float64Array(k);
  // Only ratios between channels matter (s is normalised below), so Σx² stands in for the mean square.
  for (let i = 0; i < k; i++) rms[i] = Math.sqrt(Math.max(gram.h[i * k + i]!, 1e-30));
  // The search scores α on at most 64 evenly spaced output rows (the error is a sum over rows, each O(K²)); the
  // chosen scaling is then applied to every row and its full error reported.
  const stride = Math.max(1, Math.floor(rows / 64));
  const sampleRows = Math.ceil(rows / stride);
  const sample = new Float32Array(sampleRows * k);
  for (let r = 0; r < sampleRows; r++) sample.set(data.subarray(r * stride * k, r * stride * k + k), r * k);
  const errorOfScaling = (
    w: Float32Array,
    n: number,
    s: Float64Array | undefined,
  ): { q: BlockQuantized; err: number; inv: Float32Array } => {
    const inv = new Float32Array(k).fill(1);
    const scaled = new Float32Array(n * k);
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) scaled[r * k + i] = w[r * k + i]! * (s === undefined ? 1 : s[i]!);
    if (s !== undefined) for (let i = 0; i < k; i++) inv[i] = Math.fround(1 / s[i]!);
    const q = quantizeBlocks(scaled, n, cols, blockSize, symmetric);
    const deq = dequantizeBlocks(q, n, cols, blockSize);
    for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) deq[r * k + i] = deq[r * k + i]! * inv[i]!;
    return { q, err: outputError(w, deq, n, gram), inv };
  };
  let bestAlpha = 0;
  let bestScale: Float64Array | undefined;
  let bestErr = errorOfScaling(sample, sampleRows, undefined).err;
  for (let step = 1; step <= 20; step++) {
    const alpha = step / 20;
    const s = new Float64Array(k);
    let logSum = 0;
    for (let i = 0; i < k; i++) {
      s[i] = rms[i]! ** alpha;
      logSum += Math.log(s[i]!);
    }
    const norm = Math.exp(logSum / k); // geometric mean 1: the weights keep their overall scale
    for (let i = 0; i < k; i++) s[i] = Math.fround(s[i]! / norm);
    // Effective weight seen by the original input: dequant(W·diag(s)) · diag(1/s).
    const { err } = errorOfScaling(sample, sampleRows, s);
    if (err < bestErr) [bestErr, bestAlpha, bestScale] = [err, alpha, s];
  }
  const rtn = errorOfScaling(data, rows, undefined);
  if (bestScale === undefined) return { quantized: rtn.q, inputScale: rtn.inv, alpha: 0, errorRtn: rtn.err, errorChosen: rtn.err };
  const chosen = errorOfScaling(data, rows, bestScale);
  // On all rows the sampled choice must still beat round-to-nearest; otherwise keep RTN.
  if (chosen.err >= rtn.err) return { quantized: rtn.q, inputScale: rtn.inv, alpha: 0, errorRtn: rtn.err, errorChosen: rtn.err };
  return { quantized: chosen.q, inputScale: chosen.inv, alpha: bestAlpha, errorRtn: rtn.err, errorChosen: chosen.err };
}
