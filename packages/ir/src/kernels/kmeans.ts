import { seededRandom as mulberry32 } from '../random.js';

// 1-D k-means weight sharing (Han et al., Deep Compression, 2016): the values of a tensor are clustered into k
// centroids and each value is replaced by its centroid index. One implementation serves @mc/quantize (k-means mode)
// and @mc/prune (codebooks of the stored nonzeros); it lives in @mc/ir,
// the one package both depend on (a small pure kernel; @mc/prune should not pull in @mc/quantize and its ONNX codec).
//
// Lloyd iterations run exactly on all values: in 1-D the clusters of sorted centroids are contiguous runs of the
// sorted data, so each iteration is k binary searches plus prefix sums (O(k log n)) after one O(n log n) sort.

/** Result of {@link kmeans1d}. */
export interface KMeansResult {
  /** Sorted centroids (length ≤ k; fewer when the tensor has fewer distinct values). */
  readonly centroids: Float32Array;
  /** Centroid index per input element. */
  readonly indices: Uint8Array;
  /** Mean squared reconstruction error. */
  readonly mse: number;
  /** max |x - centroid(x)|. */
  readonly maxAbsError: number;
  /** Lloyd iterations run. */
  readonly iterations: number;
}

/** Options of {@link kmeans1d}. */
export interface KMeansOptions {
  /**
   * Initial centroids: `'kmeans++'` (Arthur & Vassilvitskii 2007) on a seeded sample of at most `sampleSize` values,
   * or `'linear'`, k values evenly spaced between min and max, the initialisation Deep Compression found best for
   * weight sharing (Han et al. 2016, §3.2). Default `'kmeans++'`.
   */
  readonly init?: 'kmeans++' | 'linear';
  /** Seed of the k-means++ sample and draws. Default 0. */
  readonly seed?: number;
  /** Lloyd iterations at most (they stop earlier once no centroid moves). Default 30. */
  readonly maxIterations?: number;
  /** Values k-means++ draws from at most. Default 65,536. */
  readonly sampleSize?: number;
}

/**
 * 1-D k-means: at most `k` (1..256) sorted centroids and the index of each value's nearest one.
 *
 * @example
 * ```ts
 * const { centroids, indices } = kmeans1d(weights, 16, { seed: 0 });
 * ```
 */
export function kmeans1d(data: Float32Array, k: number, opts: KMeansOptions = {}): KMeansResult {
  const { init = 'kmeans++', seed = 0, maxIterations = 30, sampleSize = 1 << 16 } = opts;
  if (k < 1 || k > 256) throw new RangeError(`kmeans1d: k=${k} must be in 1..256`);
  const n = data.length;
  const sorted = Float32Array.from(data).sort();
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + sorted[i]!;
  let centroids = init === 'linear' ? initLinear(sorted, k) : initPlusPlus(sorted, k, seed, sampleSize);
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const next = new Float64Array(centroids.length);
    let moved = 0;
    let start = 0;
    for (let c = 0; c < centroids.length; c++) {
      const end = c === centroids.length - 1 ? n : lowerBound(sorted, (centroids[c]! + centroids[c + 1]!) / 2);
      next[c] = end > start ? (prefix[end]! - prefix[start]!) / (end - start) : centroids[c]!;
      moved = Math.max(moved, Math.abs(next[c]! - centroids[c]!));
      start = Math.max(start, end);
    }
    centroids = Float64Array.from(new Set(next)).sort();
    if (moved === 0) break;
  }
  const cents = Float32Array.from(centroids);
  const bounds = new Float64Array(cents.length - 1);
  for (let c = 0; c < bounds.length; c++) bounds[c] = (cents[c]! + cents[c + 1]!) / 2;
  const indices = new Uint8Array(n);
  let se = 0;
  let maxAbsError = 0;
  for (let i = 0; i < n; i++) {
    const x = data[i]!;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x >= bounds[mid]!) lo = mid + 1;
      else hi = mid;
    }
    indices[i] = lo;
    const err = Math.abs(x - cents[lo]!);
    se += err * err;
    if (err > maxAbsError) maxAbsError = err;
  }
  return { centroids: cents, indices, mse: n ? se / n : 0, maxAbsError, iterations };
}

function lowerBound(a: Float32Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** k evenly spaced values from min to max (one, the midpoint, when k = 1); duplicates removed. */
function initLinear(sorted: Float32Array, k: number): Float64Array {
  const n = sorted.length;
  if (n === 0) return new Float64Array([0]);
  const lo = sorted[0]!;
  const hi = sorted[n - 1]!;
  const kk = Math.min(k, n);
  const cents = Float64Array.from({ length: kk }, (_, j) => (kk === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * j) / (kk - 1)));
  return Float64Array.from(new Set(cents)).sort();
}

/** k-means++ seeding: each next centroid is drawn with probability ∝ D(x)², on a seeded sample. */
function initPlusPlus(sorted: Float32Array, k: number, seed: number, sampleSize: number): Float64Array {
  const rand = mulberry32(seed);
  const n = sorted.length;
  if (n === 0) return new Float64Array([0]);
  const m = Math.min(n, sampleSize);
  const sample = new Float64Array(m);
  for (let i = 0; i < m; i++) sample[i] = m === n ? sorted[i]! : sorted[Math.floor(rand() * n)]!;
  const d2 = new Float64Array(m).fill(Infinity);
  const cents: number[] = [sample[Math.floor(rand() * m)]!];
  for (let c = 1; c < k; c++) {
    const last = cents[c - 1]!;
    let total = 0;
    for (let i = 0; i < m; i++) {
      const d = sample[i]! - last;
      if (d * d < d2[i]!) d2[i] = d * d;
      total += d2[i]!;
    }
    if (total === 0) break; // fewer distinct values than k
    let r = rand() * total;
    let pick = m - 1;
    for (let i = 0; i < m; i++) {
      r -= d2[i]!;
      if (r <= 0 && d2[i]! > 0) {
        pick = i;
        break;
      }
    }
    cents.push(sample[pick]!);
  }
  return Float64Array.from(new Set(cents)).sort();
}
