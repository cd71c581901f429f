/**
 * Exact magnitude selection on typed arrays. "Exact" means exactly `k` weights are zeroed, ties at the threshold
 * broken by position (first come first zeroed), so a requested sparsity is met to the element.
 * @internal
 */

/** The `k`-th smallest |w| (1-based) over several arrays; 0 when k = 0. */
export function kthSmallestAbs(arrays: readonly Float32Array[], k: number): number {
  if (k <= 0) return 0;
  let total = 0;
  for (const a of arrays) total += a.length;
  const all = new Float32Array(total);
  let o = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) all[o + i] = Math.abs(a[i]!);
    o += a.length;
  }
  all.sort();
  return all[Math.min(k, total) - 1]!;
}

/**
 * Zeroes the `k` smallest |w| over all `arrays` together (one array for per-layer pruning). Returns new arrays and the
 * threshold; the inputs are not changed.
 */
export function zeroSmallest(arrays: readonly Float32Array[], k: number): { out: Float32Array[]; threshold: number } {
  const t = kthSmallestAbs(arrays, k);
  const out = arrays.map((a) => Float32Array.from(a));
  if (k <= 0) return { out, threshold: 0 };
  let budget = k;
  // Strictly below the threshold: always removed (there are fewer than k of them by definition of t).
  for (const a of out) {
    for (let i = 0; i < a.length; i++) {
      if (Math.abs(a[i]!) < t) {
        a[i] = 0;
        budget--;
      }
    }
  }
  // Ties at the threshold, in order, until exactly k are gone.
  for (const a of out) {
    for (let i = 0; i < a.length && budget > 0; i++) {
      if (Math.abs(a[i]!) === t) {
        a[i] = 0;
        budget--;
      }
    }
  }
  return { out, threshold: t };
}

/**
 * N:M sparsity: in every run of `m` consecutive weights along `axis` (the input-channel axis), keeps the `n` largest
 * |w| and zeroes the rest. A trailing run shorter than m keeps ceil(n·len/m). Returns the new array.
 */
export function nmPrune(w: Float32Array, dims: readonly number[], axis: number, n: number, m: number): Float32Array {
  const out = Float32Array.from(w);
  let stride = 1;
  for (let d = axis + 1; d < dims.length; d++) stride *= dims[d]!;
  const len = dims[axis] ?? 1;
  const outer = w.length / (len * stride);
  const idx: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < stride; j++) {
      const base = o * len * stride + j;
      for (let g = 0; g < len; g += m) {
        const run = Math.min(m, len - g);
        const keep = run === m ? n : Math.ceil((n * run) / m);
        idx.length = 0;
        for (let r = 0; r < run; r++) idx.push(base + (g + r) * stride);
        idx.sort((a, b) => Math.abs(w[b]!) - Math.abs(w[a]!) || a - b);
        for (let r = keep; r < run; r++) out[idx[r]!] = 0;
      }
    }
  }
  return out;
}

/** Number of exact zeros. */
export function countZeros(a: Float32Array): number {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return z;
}
