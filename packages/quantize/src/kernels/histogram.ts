/**
 * Streaming histogram of a tensor over calibration batches, as onnxruntime's `HistogramCollector.collect_value`
 * (python/tools/quantization/calibrate.py): bins cover [-T, T] with T = max |x| seen so far; when a batch exceeds T,
 * the histogram grows by whole bins of the old width on both sides so old counts are kept exactly (no re-binning
 * error), and the new batch is binned into the grown range. Memory is O(bins), independent of the data size.
 */
export class HistogramCollector {
  /** Counts per bin. */
  hist: Float64Array;
  /** Half-width of the covered range: bins cover [-threshold, threshold]. */
  threshold = 0;
  min = Infinity;
  max = -Infinity;
  total = 0;

  constructor(readonly numBins = 2048) {
    this.hist = new Float64Array(numBins);
  }

  /** Adds one batch. */
  collect(data: ArrayLike<number>): void {
    if (data.length === 0) return;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const x = data[i]!;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    const t = Math.max(Math.abs(lo), Math.abs(hi));
    if (this.total === 0 || this.threshold === 0) {
      const had = this.total;
      this.threshold = t;
      this.hist = new Float64Array(this.numBins);
      if (had) this.hist[this.numBins >> 1] += had; // everything seen so far was exactly 0
    } else if (t > this.threshold) {
      const n = this.hist.length;
      const stride = (2 * this.threshold) / n;
      const half = Math.floor((t - this.threshold) / stride) + 1;
      const grown = new Float64Array(n + 2 * half);
      grown.set(this.hist, half);
      this.hist = grown;
      this.threshold = half * stride + this.threshold;
    }
    this.bin(data);
    this.min = Math.min(this.min, lo);
    this.max = Math.max(this.max, hi);
    this.total += data.length;
  }

  private bin(data: ArrayLike<number>): void {
    const n = this.hist.length;
    const t = this.threshold;
    if (t === 0) {
      this.hist[n >> 1] += data.length;
      return;
    }
    const k = n / (2 * t);
    for (let i = 0; i < data.length; i++) {
      let b = Math.floor((data[i]! + t) * k);
      if (b < 0) b = 0;
      else if (b >= n) b = n - 1;
      this.hist[b]++;
    }
  }

  /** Left edge of bin i (i = bins gives the right edge of the last bin). */
  edge(i: number): number {
    return -this.threshold + (2 * this.threshold * i) / this.hist.length;
  }
}

/**
 * Percentile range: cuts (100 - percentile)/2 % of the mass on each side (onnxruntime `compute_percentile`, asymmetric
 * branch), clipped to the observed min/max.
 * @example
 * percentileRange(h, 99.999);
 */
export function percentileRange(h: HistogramCollector, percentile = 99.999): [number, number] {
  if (h.total === 0) return [0, 0];
  const cut = (100 - percentile) / 200;
  const n = h.hist.length;
  let acc = 0;
  let left = 0;
  let right = n;
  let leftFound = false;
  for (let i = 0; i < n; i++) {
    acc += h.hist[i]!;
    const cdf = acc / h.total;
    if (!leftFound && cdf >= cut) {
      left = i;
      leftFound = true;
    }
    if (cdf >= 1 - cut) {
      right = i + 1;
      break;
    }
  }
  return [Math.max(h.min, h.edge(left)), Math.min(h.max, h.edge(right))];
}
