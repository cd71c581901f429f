/**
 * Tucker-2 rank search under keras_compressor's error err = Σ|W − Ŵ| / Σ|W| (an L1 ratio on the weights), with the
 * decomposition done once and the residual moved between probes (tucker-residual.ts) instead of rebuilt.
 *
 * - **Frontier walk** (exact, used when (3·Cin + Cout)·N is small): assuming err falls as either rank grows, the
 *   smallest feasible kOut for each kIn, y(kIn), is non-increasing. Walking kIn upward and lowering kOut while the
 *   bound holds visits every frontier point with Cin + Cout rank-1 probes (plus one failed probe per kIn), and the
 *   cheapest of them is the answer of the exhaustive staircase search ({@link selectTuckerRanks}), whose binary
 *   searches rebuilt Ŵ for each of its O(Cin·log Cout) probes.
 * - **Guided by the spectrum** (large layers): the Frobenius error of every pair is known from the core alone,
 *   ‖W − Ŵ(x, y)‖²_F = ‖W‖²_F − ‖G[:y, :x]‖²_F (the factors are orthonormal), so for a Frobenius level τ the cheapest pair
 *   with F ≤ τ follows from a prefix sum of the core energies in O(Cin + Cout). The L1 error is not a function of the
 *   spectrum, so τ is fitted to the bound by a secant on the measured ratio L1/F (starting from the ratio a Gaussian
 *   residual would have, √(2N/π)·‖R‖_F/‖W‖₁), each probe measuring the actual L1 error at the candidate pair; the
 *   best feasible pair is then lowered rank by rank while the bound holds. A handful of probes instead of Cin + Cout;
 *   the result meets the bound (it is measured) and is cheapest along the Frobenius frontier, not provably cheapest.
 */
import type { MatmulEngine } from './engine.js';
import { type TuckerRankChoice, tuckerParams } from './rank-select.js';
import { TuckerResidual } from './tucker-residual.js';
import type { Tucker2 } from './tucker2.js';

/** Options of {@link searchTuckerRanks}. @internal */
export interface TuckerSearchOptions {
  /** largest (3·|kIn values| + |kOut values|)·N done by the exact walk; above it the guided search runs */
  exactWork?: number;
  /** force one method (tests) */
  method?: 'walk' | 'guided';
  /** where the block products of rank jumps run (products.ts) */
  engine?: MatmulEngine;
}

/** A choice with the method that found it. @internal */
export type TuckerSearchResult = TuckerRankChoice & { method: 'walk' | 'guided' };

const EXACT_WORK = 4e8;

/**
 * Cheapest (kIn, kOut) with err ≤ `bound` and strictly fewer parameters than the kernel, or undefined.
 * @example const c = searchTuckerRanks(w, tucker2(w, 64, 32, 9), 0.3);
 * @internal
 */
export function searchTuckerRanks(
  w: Float64Array,
  t: Tucker2,
  bound: number,
  opts: TuckerSearchOptions = {},
): TuckerSearchResult | undefined {
  const grid = gridOf(t);
  const work = (3 * grid.xs.length + grid.ys.length) * w.length;
  const method = opts.method ?? (work <= (opts.exactWork ?? EXACT_WORK) ? 'walk' : 'guided');
  return method === 'walk' ? walk(w, t, grid, bound, opts.engine) : guided(w, t, grid, bound, opts.engine);
}

interface Grid {
  /** candidate kIn values: 1..min(rankIn, Cin−1), then Cin (no input 1x1) */
  xs: number[];
  ys: number[];
  ex: (x: number) => number;
  ey: (y: number) => number;
  cost: (x: number, y: number) => number;
  kernel: number;
}

function gridOf(t: Tucker2): Grid {
  const { cin, cout, spatial, rankIn, rankOut } = t;
  const xs: number[] = [];
  for (let x = 1; x <= Math.min(rankIn, cin - 1); x++) xs.push(x);
  xs.push(cin);
  const ys: number[] = [];
  for (let y = 1; y <= Math.min(rankOut, cout - 1); y++) ys.push(y);
  ys.push(cout);
  return {
    xs,
    ys,
    ex: (x) => Math.min(x, rankIn),
    ey: (y) => Math.min(y, rankOut),
    cost: (x, y) => tuckerParams(cin, cout, spatial, x, y),
    kernel: spatial * cin * cout,
  };
}

function walk(w: Float64Array, t: Tucker2, g: Grid, bound: number, engine?: MatmulEngine): TuckerSearchResult | undefined {
  const { cin, cout } = t;
  const st = new TuckerResidual(w, t, 'zero', engine);
  let best = g.kernel;
  let bx = 0;
  let by = 0;
  let be = 0;
  let yi = g.ys.length - 1;
  for (let xi = 0; xi < g.xs.length; xi++) {
    const x = g.xs[xi];
    // cost(x, ·) only grows with x below Cin; only x = Cin (no input 1x1) can still win.
    if (x < cin && Math.min(g.cost(x, 1), g.cost(x, cout)) >= best) {
      xi = g.xs.length - 2;
      continue;
    }
    st.moveTo(g.ex(x), g.ey(g.ys[yi]));
    if (!(st.error() <= bound)) continue;
    while (yi > 0) {
      const ny = g.ey(g.ys[yi - 1]);
      if (ny === st.y) {
        yi--; // same effective rank (past the mode's rank): same error, free
        continue;
      }
      st.stepOut(-1);
      if (st.error() <= bound) yi--;
      else {
        st.stepOut(1);
        break;
      }
    }
    const y = g.ys[yi];
    if (y < cout && g.cost(x, y) < best) {
      best = g.cost(x, y);
      bx = x;
      by = y;
      be = st.error();
    }
    if (g.cost(x, cout) < best) {
      best = g.cost(x, cout);
      bx = x;
      by = cout;
      be = NaN; // measured below
    }
  }
  if (bx === 0) return undefined;
  if (Number.isNaN(be)) {
    st.moveTo(g.ex(bx), g.ey(by));
    be = st.error();
  }
  return { kIn: bx, kOut: by, error: be, params: best, probes: st.probes, method: 'walk' };
}

function guided(w: Float64Array, t: Tucker2, g: Grid, bound: number, engine?: MatmulEngine): TuckerSearchResult | undefined {
  const { rankIn: rI, rankOut: rO, spatial: S, core } = t;
  // kept[a·(rI+1) + b] = ‖G[:a, :b]‖²_F
  const kept = new Float64Array((rO + 1) * (rI + 1));
  for (let a = 0; a < rO; a++) {
    let row = 0;
    for (let b = 0; b < rI; b++) {
      let e = 0;
      const o = (a * rI + b) * S;
      for (let s = 0; s < S; s++) e += core[o + s] * core[o + s];
      row += e;
      kept[(a + 1) * (rI + 1) + b + 1] = kept[a * (rI + 1) + b + 1] + row;
    }
  }
  let frob2 = 0;
  let l1w = 0;
  for (let i = 0; i < w.length; i++) {
    frob2 += w[i] * w[i];
    l1w += Math.abs(w[i]);
  }
  if (frob2 === 0) return undefined;
  const keptAt = (x: number, y: number) => kept[g.ey(y) * (rI + 1) + g.ex(x)];
  const frobAt = (x: number, y: number) => Math.sqrt(Math.max(frob2 - keptAt(x, y), 0) / frob2);
  /** The cheapest pair with Frobenius error ≤ tau, scanned like the walk but on the core energies. */
  const candidate = (tau: number): { x: number; y: number } | undefined => {
    const need = frob2 * (1 - tau * tau);
    let best = g.kernel;
    let bx = 0;
    let by = 0;
    let yi = g.ys.length - 1;
    for (const x of g.xs) {
      if (keptAt(x, g.ys[yi]) < need) continue;
      while (yi > 0 && keptAt(x, g.ys[yi - 1]) >= need) yi--;
      const y = g.ys[yi];
      if (y < t.cout && g.cost(x, y) < best) [best, bx, by] = [g.cost(x, y), x, y];
      if (g.cost(x, t.cout) < best) [best, bx, by] = [g.cost(x, t.cout), x, t.cout];
    }
    return bx === 0 ? undefined : { x: bx, y: by };
  };

  let tau = Math.min(1, (bound * l1w) / (Math.sqrt((2 * w.length) / Math.PI) * Math.sqrt(frob2)));
  let st: TuckerResidual | undefined;
  const errAt = (x: number, y: number) => {
    // Start where fewer rank-1 terms separate the state from the first probe.
    st ??= new TuckerResidual(w, t, g.ey(y) * (1 + g.ex(x) / t.cout) <= rI - g.ex(x) + (rO - g.ey(y)) ? 'zero' : 'full', engine);
    st.moveTo(g.ex(x), g.ey(y));
    return st.error();
  };
  // The most accurate pair still cheaper than the kernel: if even it misses the bound, the layer is kept.
  let tauMin = Infinity;
  for (const x of g.xs) {
    for (let yi = g.ys.length - 1; yi >= 0; yi--) {
      if (g.cost(x, g.ys[yi]) >= g.kernel) continue;
      tauMin = Math.min(tauMin, frobAt(x, g.ys[yi]));
      break;
    }
  }
  if (!(tauMin < Infinity)) return undefined;
  let found: { x: number; y: number; cost: number } | undefined;
  let lo = 0; // largest τ whose candidate met the bound
  let hi = Infinity; // smallest τ whose candidate missed it
  const tried = new Set<number>();
  tau = Math.max(tau, tauMin);
  for (let it = 0; it < 12; it++) {
    const c = candidate(tau)!; // exists for τ ≥ τmin
    const key = c.x * (t.cout + 1) + c.y;
    if (tried.has(key)) break;
    tried.add(key);
    const e = errAt(c.x, c.y);
    const f = frobAt(c.x, c.y);
    // Secant on the ratio L1/F: the Frobenius level at which this candidate's ratio would give exactly the bound.
    let next = f > 0 && e > 0 ? (bound * f) / e : tau * 2;
    if (e <= bound) {
      lo = Math.max(lo, tau);
      const cost = g.cost(c.x, c.y);
      if (found === undefined || cost < found.cost) found = { ...c, cost };
      if (next <= tau) break; // cheaper candidates are predicted to miss the bound
    } else {
      hi = Math.min(hi, tau);
      if (tau <= tauMin) break; // the most accurate cheap pair misses the bound
      if (next >= f) next = f * (1 - 1e-9); // force a more accurate candidate
    }
    if (!(next > lo && next < hi)) next = hi < Infinity ? Math.sqrt(Math.max(lo, tauMin) * hi) : Math.min(1, tau * 2);
    next = Math.max(next, tauMin);
    if (next === tau || (hi < Infinity && hi / Math.max(lo, tauMin) < 1.0005)) break;
    tau = next;
  }
  if (found === undefined) return undefined;
  // Polish: lower either rank while the bound holds and the cost falls.
  let { x, y } = found;
  errAt(x, y);
  for (let changed = true; changed; ) {
    changed = false;
    const yi = g.ys.indexOf(y);
    if (y < t.cout && yi > 0 && g.cost(x, g.ys[yi - 1]) < g.cost(x, y) && errAt(x, g.ys[yi - 1]) <= bound) {
      y = g.ys[yi - 1];
      changed = true;
      continue;
    }
    const xi = g.xs.indexOf(x);
    if (xi > 0 && g.cost(g.xs[xi - 1], y) < g.cost(x, y) && errAt(g.xs[xi - 1], y) <= bound) {
      x = g.xs[xi - 1];
      changed = true;
      continue;
    }
    if (y < t.cout && g.cost(x, t.cout) < g.cost(x, y) && errAt(x, t.cout) <= bound) {
      y = t.cout;
      changed = true;
    }
  }
  const error = errAt(x, y);
  return { kIn: x, kOut: y, error, params: g.cost(x, y), probes: st?.probes ?? 0, method: 'guided' };
}
