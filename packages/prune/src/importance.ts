import type { Importance, ImportanceLayer } from './options.js';

/** Per-output-channel reduction of a weight laid out with output channels on `outAxis`. @internal */
export function perChannel(
  layer: Pick<ImportanceLayer, 'weight' | 'dims' | 'outAxis'>,
  f: (acc: number, w: number) => number,
): Float64Array {
  const { weight, dims, outAxis } = layer;
  let inner = 1;
  for (let d = outAxis + 1; d < dims.length; d++) inner *= dims[d]!;
  const len = dims[outAxis]!;
  const outer = weight.length / (len * inner);
  const out = new Float64Array(len);
  for (let a = 0; a < outer; a++) {
    for (let c = 0; c < len; c++) {
      const base = (a * len + c) * inner;
      let acc = out[c]!;
      for (let i = 0; i < inner; i++) acc = f(acc, weight[base + i]!);
      out[c] = acc;
    }
  }
  return out;
}

/**
 * L1 filter norm Σ|w| per output channel (Li et al., "Pruning Filters for Efficient ConvNets").
 *
 * @example
 * ```ts
 * await prune(model, { mode: 'channels', ratio: 0.5, importance: l1Importance });
 * ```
 */
export const l1Importance: Importance = { name: 'l1', scores: (l) => perChannel(l, (a, w) => a + Math.abs(w)) };

/**
 * L2 filter norm √Σw² per output channel.
 *
 * @example
 * ```ts
 * await prune(model, { mode: 'channels', ratio: 0.5, importance: l2Importance });
 * ```
 */
export const l2Importance: Importance = { name: 'l2', scores: (l) => perChannel(l, (a, w) => a + w * w).map(Math.sqrt) };

/**
 * |γ| of the BatchNormalization after the layer (network slimming, Liu et al. 2017); layers without one fall back to
 * the L1 norm (the report warns).
 *
 * @example
 * ```ts
 * await prune(model, { mode: 'channels', ratio: 0.5, importance: bnImportance });
 * ```
 */
export const bnImportance: Importance = { name: 'bn', scores: (l) => l.bnScale ?? l1Importance.scores(l) };

/** The strategy behind a name. @internal */
export function importanceOf(i: 'l1' | 'l2' | 'bn' | Importance): Importance {
  return i === 'l1' ? l1Importance : i === 'l2' ? l2Importance : i === 'bn' ? bnImportance : i;
}
