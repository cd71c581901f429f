import { type Model, namedInput, Tensor, type Value } from '@mc/ir';
import { markedWeights, markOf, withMark } from './mask.js';

export { pruneMasks } from './mask.js';

/** What became of the pruning masks across one technique (see {@link restoreMasks}). */
export interface MaskReport {
  /** Weights whose pruned entries are still zero (their masks carried on). */
  kept: string[];
  /** Weights whose pruned entries had become nonzero and were set back to zero: `entries` of them. */
  reapplied: { weight: string; entries: number }[];
  /** Weights the technique replaced (low-rank factors, quantized tensors): their sparsity is gone, with the reason. */
  lost: { weight: string; reason: string }[];
}

/**
 * Carries the pruning masks of `before` onto `after`, the output of a technique run on it: a weight that is still a
 * float32 initializer of the same name and size keeps its mask (a technique that made a new tensor drops the record;
 * it is put back), and any pruned entry that became nonzero (a step that trained without the mask) is set back to
 * zero and counted. A weight that is gone (factorized, quantized) is listed in `lost`: its sparsity did not survive.
 * Returns a new model; `after` is not changed.
 *
 * @example
 * ```ts
 * const { model: sparse } = await prune(model, { mode: 'magnitude', sparsity: 0.8 });
 * const { model: lr } = await factorize(sparse, { ratio: 0.5 });
 * const { model, report } = restoreMasks(sparse, lr, 'lowrank');
 * report.lost; // [{ weight: 'fc1.weight', reason: 'lowrank replaced it (dense factors): its sparsity is gone' }]
 * ```
 */
export function restoreMasks(before: Model, after: Model, step = 'the step'): { model: Model; report: MaskReport } {
  const report: MaskReport = { kept: [], reapplied: [], lost: [] };
  const marked = markedWeights(before);
  if (marked.size === 0) return { model: after, report };
  const out = after.clone();
  for (const [name, w] of marked) {
    const v = out.graph.initializers.get(name);
    const t = v?.constValue;
    if (v === undefined || t === undefined) {
      const sparse = out.graph.sparseInitializers.has(name);
      report.lost.push({
        weight: name,
        reason: sparse ? `${step} stored it as a sparse_initializer` : `${step} replaced it (${replacement(step)}): its sparsity is gone`,
      });
      continue;
    }
    if (t.dtype === 'int8' && t.size === w.tensor.size && quantizedKeepsZeros(v, t, w.mark.mask)) {
      // Quantized with zero point 0: the pruned entries are exact int8 zeros; the mask carries on to the int8 tensor.
      v.constValue = markOf(t) === undefined ? withMark(t, w.mark) : t;
      report.kept.push(name);
      continue;
    }
    if (t.dtype !== 'float32' || t.size !== w.tensor.size) {
      report.lost.push({ weight: name, reason: `${step} turned it into ${t.dtype}[${t.dims.join('x')}]` });
      continue;
    }
    // Its own record (the same mask, or a new one from pruning again) stands.
    if (markOf(t) !== undefined) {
      report.kept.push(name);
      continue;
    }
    const data = t.data as Float32Array;
    let moved = 0;
    for (let i = 0; i < data.length; i++) if (w.mark.mask[i] === 0 && data[i] !== 0) moved++;
    if (moved === 0) {
      v.constValue = withMark(t, w.mark);
      report.kept.push(name);
    } else {
      const fixed = Float32Array.from(data, (x, i) => (w.mark.mask[i] === 0 ? 0 : x));
      v.constValue = withMark(new Tensor('float32', t.dims, fixed, t.info), w.mark);
      report.reapplied.push({ weight: name, entries: moved });
    }
  }
  out.graph.touch();
  return { model: out, report };
}

/** Every reader is a DequantizeLinear with zero point 0 (or none), and every pruned entry is 0. */
function quantizedKeepsZeros(v: Value, t: Tensor, mask: Uint8Array): boolean {
  const uses = v.uses();
  if (uses.length === 0) return false;
  for (const u of uses) {
    if (u.node.opType !== 'DequantizeLinear' || u.node.domain !== '' || u.index !== 0) return false;
    const zp = namedInput(u.node, 'x_zero_point');
    if (zp !== undefined && (zp.constValue === undefined || Array.from(zp.constValue.data as Int8Array).some((x) => x !== 0))) return false;
  }
  const d = t.data as Int8Array;
  for (let i = 0; i < d.length; i++) if (mask[i] === 0 && d[i] !== 0) return false;
  return true;
}

function replacement(step: string): string {
  if (step === 'lowrank') return 'dense low-rank factors';
  if (step === 'quantize') return 'a quantized tensor';
  if (step === 'prune') return 'removed channels';
  return 'a rewritten weight';
}
