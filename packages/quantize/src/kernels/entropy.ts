import type { HistogramCollector } from './histogram.js';

/**
 * KL-divergence ("entropy") calibration as onnxruntime's `HistogramCalibrater.get_entropy_threshold` (after TensorRT's
 * 8-bit inference talk, Migacz 2017): for each symmetric candidate window of 2i+1 bins around zero, P is the clipped
 * histogram with the outliers folded into the edge bins, Q is P merged into `numQuantizedBins` levels and expanded back
 * over P's non-zero bins; both are smoothed and the window with the smallest KL(P‖Q) wins. The result is clipped to the
 * observed [min, max]. Cost O(bins² / 2), bins = the histogram's (grown) length.
 * @example
 * entropyRange(h, 128);
 */
export function entropyRange(h: HistogramCollector, numQuantizedBins = 128): [number, number] {
  if (h.total === 0) return [0, 0];
  const hist = h.hist;
  const n = hist.length;
  const zero = n >> 1;
  const halfQ = numQuantizedBins >> 1;
  if (zero < halfQ) return [h.min, h.max];
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + hist[i]!;
  let best = Infinity;
  let bestRange: [number, number] = [h.min, h.max];
  // Scanning every window is O(n²); for grown histograms step so at most ~512 candidates are scored.
  const step = Math.max(1, Math.floor((zero - halfQ + 1) / 512));
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  for (let i = halfQ; i <= zero; i += step) {
    const start = zero - i;
    const end = Math.min(zero + i + 1, n);
    const len = end - start;
    for (let j = 0; j < len; j++) p[j] = hist[start + j]!;
    p[0] += prefix[start]!;
    p[len - 1] += prefix[n]! - prefix[end]!;
    // Q: P merged into numQuantizedBins levels (the last level also takes the remainder bins' mass, as onnxruntime
    // does) and spread back evenly over the non-zero bins of each level; remainder bins get no mass in Q.
    const merged = Math.floor(len / numQuantizedBins);
    q.fill(0, 0, len);
    for (let b = 0; b < numQuantizedBins; b++) {
      const s = b * merged;
      const e = s + merged;
      let sum = 0;
      let nz = 0;
      for (let j = s; j < e; j++) {
        sum += hist[start + j]!;
        if (p[j] !== 0) nz++;
      }
      if (b === numQuantizedBins - 1) for (let j = e; j < len; j++) sum += hist[start + j]!;
      if (nz) for (let j = s; j < e; j++) q[j] = sum / nz;
    }
    const kl = smoothedKl(p, q, len);
    if (kl < best) {
      best = kl;
      bestRange = [h.edge(start), h.edge(end)];
    }
  }
  return [Math.max(bestRange[0], h.min), Math.min(bestRange[1], h.max)];
}

/**
 * KL(P‖Q) after onnxruntime's `smooth_distribution` (eps = 1e-4 moved from non-zero bins to zero bins), on the
 * normalised distributions. Infinity when either is all zeros.
 */
function smoothedKl(p: Float64Array, q: Float64Array, len: number): number {
  const eps = 1e-4;
  const sp = smoothTotals(p, len, eps);
  const sq = smoothTotals(q, len, eps);
  if (!sp || !sq) return Infinity;
  let kl = 0;
  for (let j = 0; j < len; j++) {
    const pj = (p[j] === 0 ? sp.epsZero : p[j]! - sp.epsNz) / sp.sum;
    const qj = (q[j] === 0 ? sq.epsZero : q[j]! - sq.epsNz) / sq.sum;
    if (pj > 0) kl += pj * Math.log(pj / qj);
  }
  return kl;
}

function smoothTotals(d: Float64Array, len: number, eps: number): { epsZero: number; epsNz: number; sum: number } | undefined {
  let nz = 0;
  let sum = 0;
  for (let j = 0; j < len; j++) {
    if (d[j] !== 0) nz++;
    sum += d[j]!;
  }
  const zeros = len - nz;
  if (nz === 0) return undefined;
  // smoothing in count space, as onnxruntime does (the total mass is unchanged)
  const epsZero = eps;
  const epsNz = (eps * zeros) / nz;
  return { epsZero, epsNz, sum };
}
