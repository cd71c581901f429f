/**
 * Rank selection with keras_compressor's error measure: err = mean|W − Ŵ| / mean|W| per layer (an L1 ratio, not the
 * Frobenius norm the SVD minimises).
 *
 * Dense: the seed checks the break-even rank floor(N·M/(N+M)) and binary-searches the smallest rank meeting the bound,
 * re-running a randomized SVD per probe. Here one SVD serves every rank: the residual R_k = W − Σ_{j<k} σⱼuⱼvⱼᵀ is
 * walked upward one rank-1 update at a time and its L1 norm read after each step, so the first k with err ≤ E is the
 * smallest feasible rank *without* assuming the L1 error is monotone (it usually is, but L1 is not what SVD optimises).
 *
 * Conv (Tucker-2): cost(kIn, kOut) = S·kIn·kOut + [kIn<Cin]·Cin·kIn + [kOut<Cout]·Cout·kOut, as the seed counts.
 * Assuming error falls as either rank grows (true for the Frobenius error of nested HOSVD truncations), the smallest
 * feasible kOut for each kIn is non-increasing, so a staircase walk over kIn with a binary search in kOut, pruned by
 * the best cost so far, finds the cheapest feasible pair exactly with O(Cin·log Cout) probes, each one reconstruction.
 * That search ({@link selectTuckerRanks}) is the reference the tests hold `searchTuckerRanks` (tucker-search.ts) to;
 * `factorize` uses the latter, which reads each probe off a moved residual instead of a reconstruction.
 */
import type { SvdResult } from './svd.js';
import { reconstruct, type Tucker2 } from './tucker2.js';

/** Σ|a − b| / Σ|a| (= mean|W−Ŵ|/mean|W|). @example l1RelError(w, wHat) */
export function l1RelError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += Math.abs(a[i]! - b[i]!);
    den += Math.abs(a[i]!);
  }
  return den > 0 ? num / den : num > 0 ? Infinity : 0;
}

/** floor(N·M/(N+M)): the largest rank whose two factors hold no more weights than W. @example denseBreakEven(784, 10) */
export function denseBreakEven(n: number, m: number): number {
  return Math.floor((n * m) / (n + m));
}

/**
 * Errors err(k) for k = 0..maxRank from one SVD of `w` (m x n row-major). `stopAt`: stop after the first k ≥ 1 with
 * err(k) ≤ stopAt (the returned array is then shorter).
 * @example const curve = denseErrorCurve(w, svd(w, m, n), 20);
 */
export function denseErrorCurve(w: Float64Array, f: SvdResult, maxRank: number, stopAt = -Infinity): Float64Array {
  const { m, n } = f;
  const r = f.rank;
  const kMax = Math.min(maxRank, r);
  const res = Float64Array.from(w);
  let den = 0;
  for (let i = 0; i < res.length; i++) den += Math.abs(res[i]);
  const curve: number[] = [den > 0 ? 1 : 0];
  // Four rank-1 updates per pass over R (one read and one write of R per four ranks), with the L1 norm after each.
  for (let k0 = 0; k0 < kMax; k0 += 4) {
    const nb = Math.min(4, kMax - k0);
    const s0 = f.s[k0],
      s1 = nb > 1 ? f.s[k0 + 1] : 0,
      s2 = nb > 2 ? f.s[k0 + 2] : 0,
      s3 = nb > 3 ? f.s[k0 + 3] : 0;
    const v0 = k0 * n,
      v1 = nb > 1 ? v0 + n : v0,
      v2 = nb > 2 ? v0 + 2 * n : v0,
      v3 = nb > 3 ? v0 + 3 * n : v0;
    let e0 = 0,
      e1 = 0,
      e2 = 0,
      e3 = 0;
    for (let i = 0; i < m; i++) {
      const ui = i * r + k0;
      const c0 = s0 * f.u[ui];
      const c1 = nb > 1 ? s1 * f.u[ui + 1] : 0;
      const c2 = nb > 2 ? s2 * f.u[ui + 2] : 0;
      const c3 = nb > 3 ? s3 * f.u[ui + 3] : 0;
      const o = i * n;
      for (let t = 0; t < n; t++) {
        let x = res[o + t] - c0 * f.vt[v0 + t];
        e0 += Math.abs(x);
        x -= c1 * f.vt[v1 + t];
        e1 += Math.abs(x);
        x -= c2 * f.vt[v2 + t];
        e2 += Math.abs(x);
        x -= c3 * f.vt[v3 + t];
        e3 += Math.abs(x);
        res[o + t] = x;
      }
    }
    const es = [e0, e1, e2, e3];
    for (let j = 0; j < nb; j++) {
      const e = den > 0 ? es[j] / den : 0;
      curve.push(e);
      if (e <= stopAt) return Float64Array.from(curve);
    }
  }
  return Float64Array.from(curve);
}

/** Outcome of a Dense rank search. */
export interface DenseRankChoice {
  rank: number;
  error: number;
  /** err(0..rank), read on the way */
  curve: Float64Array;
  /** largest rank that saves parameters (break-even) */
  maxRank: number;
}

/**
 * Smallest rank k ≤ floor(N·M/(N+M)) with err(k) ≤ `bound`, or undefined when even the break-even rank misses it
 * (the seed then keeps the layer).
 * @example const c = selectDenseRank(w, svd(w, m, n), 0.1);
 */
export function selectDenseRank(w: Float64Array, f: SvdResult, bound: number): DenseRankChoice | undefined {
  const maxRank = Math.min(denseBreakEven(f.m, f.n), f.rank);
  if (maxRank < 1) return undefined;
  const curve = denseErrorCurve(w, f, maxRank, bound);
  const k = curve.length - 1;
  const e = curve[k]!;
  if (k < 1 || !(e <= bound)) return undefined;
  return { rank: k, error: e, maxRank, curve };
}

/** Parameter count of a Tucker-2 replacement, counted as keras_compressor does (a full-rank mode needs no 1x1). */
export function tuckerParams(cin: number, cout: number, spatial: number, kIn: number, kOut: number): number {
  return spatial * kIn * kOut + (kIn < cin ? cin * kIn : 0) + (kOut < cout ? cout * kOut : 0);
}

/** Memoised err(kIn, kOut) of a Tucker-2 truncation against the original kernel. @internal */
export class TuckerErrorOracle {
  readonly probes = new Map<number, number>();
  constructor(
    readonly w: Float64Array,
    readonly t: Tucker2,
  ) {}
  error(kIn: number, kOut: number): number {
    const key = kIn * (this.t.cout + 1) + kOut;
    let e = this.probes.get(key);
    if (e === undefined) {
      e = l1RelError(this.w, reconstruct(this.t, kIn, kOut));
      this.probes.set(key, e);
    }
    return e;
  }
}

/** Outcome of a Tucker-2 rank search. */
export interface TuckerRankChoice {
  kIn: number;
  kOut: number;
  error: number;
  params: number;
  /** decompositions are done once; this counts reconstructions */
  probes: number;
}

/**
 * Cheapest (kIn, kOut) with err ≤ `bound` and strictly fewer parameters than the kernel, or undefined.
 * @example const c = selectTuckerRanks(new TuckerErrorOracle(w, tucker2(w, 64, 32, 9)), 0.3);
 */
export function selectTuckerRanks(oracle: TuckerErrorOracle, bound: number): TuckerRankChoice | undefined {
  const { cin, cout, spatial } = oracle.t;
  const cost = (x: number, y: number) => tuckerParams(cin, cout, spatial, x, y);
  const feasible = (x: number, y: number) => oracle.error(x, y) <= bound;
  let best = spatial * cin * cout; // must beat the original strictly
  let bx = 0;
  let by = 0;
  let yHi = cout; // upper bound of the smallest feasible kOut (non-increasing in kIn)
  for (let x = 1; x <= cin; x++) {
    if (x < cin && Math.min(cost(x, 1), cost(x, cout)) >= best) {
      // cost(x, ·) only grows with x below Cin; only x = Cin (no input 1x1) can still win.
      x = cin - 1;
      continue;
    }
    // y < Cout: cost increases with y, so only y ≤ yc can beat best.
    let yc = 0;
    for (let y = Math.min(yHi, cout - 1); y >= 1; y--)
      if (cost(x, y) < best) {
        yc = y;
        break;
      }
    if (yc >= 1 && feasible(x, yc)) {
      let lo = 1;
      let hi = yc; // feasible(x, hi)
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (feasible(x, mid)) hi = mid;
        else lo = mid + 1;
      }
      best = cost(x, hi);
      bx = x;
      by = hi;
      yHi = hi;
    }
    // kOut = Cout needs no output 1x1, so it can be cheaper than kOut just below Cout.
    if (cost(x, cout) < best && feasible(x, cout)) {
      best = cost(x, cout);
      bx = x;
      by = cout;
    }
  }
  if (bx === 0) return undefined;
  return { kIn: bx, kOut: by, error: oracle.error(bx, by), params: best, probes: oracle.probes.size };
}
