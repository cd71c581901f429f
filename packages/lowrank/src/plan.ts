/**
 * Chooses ranks per layer from one decomposition per layer (and per mode). @internal
 */
import { denseBreakEven, denseErrorCurve, selectDenseRank, type TuckerErrorOracle, tuckerParams } from './kernels/rank-select.js';
import { TuckerResidual } from './kernels/tucker-residual.js';
import { searchTuckerRanks } from './kernels/tucker-search.js';
import type { MatmulEngine } from './kernels/engine.js';
import type { SvdResult } from './kernels/svd.js';
import type { Tucker2 } from './kernels/tucker2.js';
import { outputErrorCurve, type OutputSpectrum } from './calibrate.js';
import type { Policy } from './options.js';
import type { ConvLayer, DenseLayer } from './rules/types.js';

/** A decomposed layer. @internal */
export type Decomposed =
  | { layer: DenseLayer; svd: SvdResult; spectrum?: OutputSpectrum; curve?: Float64Array }
  | {
      layer: ConvLayer;
      tucker: Tucker2;
      oracle: TuckerErrorOracle;
      engine?: MatmulEngine;
      /** what the error search measured at the ranks it chose */
      searched?: { ranks: [number, number]; error: number; method: 'walk' | 'guided' };
    };

/** Chosen ranks, or the reason to keep the layer. @internal */
export type Choice = { ranks: number[] } | { keep: string };

/** Params of the replacement at these ranks (keras_compressor's count; a Dense bias is unchanged either way). @internal */
export function paramsAt(d: Decomposed, ranks: number[]): number {
  if ('svd' in d) return ranks[0]! * (d.layer.rows + d.layer.cols);
  const { cin, cout, spatial } = d.layer;
  return tuckerParams(cin, cout, spatial, ranks[0]!, ranks[1]!);
}

/** Weights of the layer as it is. @internal */
export function paramsOf(d: Decomposed): number {
  return d.layer.w.length;
}

function energyRank(values: Float64Array, frac: number, squared: boolean): number {
  let total = 0;
  for (const v of values) total += squared ? v * v : v;
  if (total === 0) return 1;
  let acc = 0;
  for (let k = 0; k < values.length; k++) {
    acc += squared ? values[k]! * values[k]! : values[k]!;
    if (acc >= frac * total * (1 - 1e-12)) return k + 1;
  }
  return values.length;
}

/** Per-layer choice for the error, rank and energy policies. @internal */
export function chooseLocal(d: Decomposed, policy: Policy): Choice {
  if ('svd' in d && d.spectrum !== undefined) {
    const { rows, cols } = d.layer;
    const maxK = Math.min(rows, cols);
    switch (policy.kind) {
      case 'error': {
        const maxRank = Math.min(denseBreakEven(rows, cols), maxK);
        const curve = outputErrorCurve(d.spectrum.values);
        for (let k = 1; k <= maxRank; k++) if (curve[k]! <= policy.value) return { ranks: [k] };
        return { keep: `no rank ≤ ${maxRank} (break-even for ${rows}x${cols}) meets output error ${policy.value} on the calibration data` };
      }
      case 'rank':
        return { ranks: [Math.min(policy.value, maxK)] };
      case 'energy':
        return { ranks: [Math.min(energyRank(d.spectrum.values, policy.value, false), maxK)] };
      default:
        throw new Error('unreachable');
    }
  }
  if ('svd' in d) {
    const { rows, cols } = d.layer;
    switch (policy.kind) {
      case 'error': {
        const c = selectDenseRank(d.layer.w, d.svd, policy.value);
        if (c !== undefined) d.curve = c.curve;
        if (c === undefined) {
          const maxRank = denseBreakEven(rows, cols);
          return { keep: `no rank ≤ ${maxRank} (break-even for ${rows}x${cols}) meets error ${policy.value}` };
        }
        return { ranks: [c.rank] };
      }
      case 'rank':
        return { ranks: [Math.min(policy.value, d.svd.rank)] };
      case 'energy':
        return { ranks: [energyRank(d.svd.s, policy.value, true)] };
      default:
        throw new Error('unreachable');
    }
  }
  const { cin, cout } = d.layer;
  switch (policy.kind) {
    case 'error': {
      const c = searchTuckerRanks(d.layer.w, d.tucker, policy.value, { ...(d.engine !== undefined && { engine: d.engine }) });
      if (c === undefined) return { keep: `no (kIn, kOut) pair cheaper than the kernel meets error ${policy.value}` };
      d.searched = { ranks: [c.kIn, c.kOut], error: c.error, method: c.method };
      return { ranks: [c.kIn, c.kOut] };
    }
    case 'rank':
      return { ranks: [Math.min(policy.value, cin), Math.min(policy.value, cout)] };
    case 'energy':
      return { ranks: [energyRank(d.tucker.energyIn, policy.value, false), energyRank(d.tucker.energyOut, policy.value, false)] };
    default:
      throw new Error('unreachable');
  }
}

interface Option {
  ranks: number[] | undefined; // undefined = keep
  params: number;
  error: number;
}

function optionsOf(d: Decomposed): Option[] {
  const keep: Option = { ranks: undefined, params: paramsOf(d), error: 0 };
  if ('svd' in d) {
    const maxRank = Math.min(denseBreakEven(d.layer.rows, d.layer.cols), d.svd.rank);
    const curve =
      d.spectrum !== undefined ? outputErrorCurve(d.spectrum.values).subarray(0, maxRank + 1) : denseErrorCurve(d.layer.w, d.svd, maxRank);
    if (d.spectrum === undefined) d.curve = curve;
    const opts: Option[] = [keep];
    for (let k = 1; k < curve.length; k++) opts.push({ ranks: [k], params: paramsAt(d, [k]), error: curve[k]! });
    return opts;
  }
  // Conv: the grid is Cin x Cout; the allocation scans the diagonal kIn/Cin ≈ kOut/Cout (an approximation).
  const { cin, cout } = d.layer;
  const steps = Math.min(Math.max(cin, cout), 32);
  const opts: Option[] = [keep];
  const seen = new Set<string>();
  // The diagonal points grow in both ranks, so one residual moved along them replaces a reconstruction per point.
  const res = new TuckerResidual(d.layer.w, d.tucker, 'zero', d.engine);
  const errorAt = (x: number, y: number) => {
    res.moveTo(Math.min(x, d.tucker.rankIn), Math.min(y, d.tucker.rankOut));
    return res.error();
  };
  for (let j = 1; j <= steps; j++) {
    const x = Math.max(1, Math.round((j / steps) * cin));
    const y = Math.max(1, Math.round((j / steps) * cout));
    const key = `${x},${y}`;
    if (seen.has(key) || (x === cin && y === cout)) continue;
    seen.add(key);
    const params = paramsAt(d, [x, y]);
    if (params >= keep.params) continue;
    opts.push({ ranks: [x, y], params, error: errorAt(x, y) });
  }
  return opts;
}

/**
 * Global allocation for `{ratio}`: minimise Σ per-layer error subject to Σ params ≤ budget by a Lagrangian sweep
 * (each layer picks argmin error + λ·params; λ found by bisection). Returns choices and whether the budget was met.
 * @internal
 */
export function chooseGlobal(ds: Decomposed[], budget: number): { choices: Choice[]; met: boolean } {
  const all = ds.map(optionsOf);
  const pick = (lambda: number) =>
    all.map((opts) => opts.reduce((best, o) => (o.error + lambda * o.params < best.error + lambda * best.params ? o : best)));
  const total = (sel: Option[]) => sel.reduce((s, o) => s + o.params, 0);
  let sel = pick(0);
  let met = total(sel) <= budget;
  if (!met) {
    let lo = -30;
    let hi = 10;
    const high = pick(10 ** hi);
    if (total(high) > budget) {
      sel = all.map((opts) => opts.reduce((b, o) => (o.params < b.params ? o : b)));
      met = total(sel) <= budget;
    } else {
      for (let it = 0; it < 80; it++) {
        const mid = (lo + hi) / 2;
        if (total(pick(10 ** mid)) <= budget) hi = mid;
        else lo = mid;
      }
      sel = pick(10 ** hi);
      met = true;
    }
  }
  if (met) sel = refine(all, sel, budget);
  const choices: Choice[] = sel.map((o) =>
    o.ranks === undefined ? { keep: 'the parameter budget is met without it' } : { ranks: o.ranks },
  );
  return { choices, met };
}

/**
 * The Lagrangian only reaches points on the convex hull of each layer's (params, error) curve and can undershoot the
 * budget by a lot; spend what is left greedily on the upgrade with the best error drop per added parameter.
 */
function refine(all: Option[][], sel: Option[], budget: number): Option[] {
  const cur = sel.slice();
  let used = cur.reduce((s, o) => s + o.params, 0);
  for (;;) {
    let bestGain = 0;
    let bi = -1;
    let bo: Option | undefined;
    for (const [i, opts] of all.entries()) {
      const c = cur[i]!;
      for (const o of opts) {
        const dp = o.params - c.params;
        const de = c.error - o.error;
        if (dp <= 0 || de <= 0 || used + dp > budget) continue;
        if (de / dp > bestGain) {
          bestGain = de / dp;
          bi = i;
          bo = o;
        }
      }
    }
    if (bo === undefined) return cur;
    used += bo.params - cur[bi]!.params;
    cur[bi] = bo;
  }
}
