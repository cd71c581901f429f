import { attrOf, constantTensor, type Dim, type Model, type Node, slotOf, Tensor, toNumbers, type Value } from '@mc/ir';
import { type ChanMap, keptPositions } from './state.js';
import { replaceConst, type RuleContext } from './util.js';

// Attention heads as channel classes (Torch-Pruning's head grouping, on ONNX values). A head split
// Reshape([B, T, H·Dh] → [B, T, H, Dh]) couples the Dh channels of every head into one class and maps the H axis to
// one representative channel per head; a batched MatMul of two activations couples the heads of its operands along
// the batch axes; the merge Reshape([B, T, H, Dh] → [B, T, H·Dh]) gives the heads back as blocks of Dh features.

type Rule = (ctx: RuleContext, node: Node, mapped: (ChanMap | undefined)[]) => void;

const label = (n: Node): string => `${n.opType} '${n.name}'`;
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

function fixAll(ctx: RuleContext, mapped: (ChanMap | undefined)[], why: string): void {
  for (const m of mapped) if (m !== undefined) ctx.state.fix(m, why);
}

/** A constant of a value: an initializer or the output of a Constant node. */
function constOf(v: Value | undefined): Tensor | undefined {
  if (v === undefined) return undefined;
  if (v.constValue !== undefined) return v.constValue;
  const p = v.producer();
  return p === undefined ? undefined : constantTensor(p);
}

/**
 * Where position `pos` of a Reshape's target shape is written: the target itself when constant, or the one-element
 * constant input of the Concat that builds it (torch.onnx builds `[B, T, H, Dh]` from Shape/Gather and constants).
 * Returns a setter, the current value, or undefined when the entry cannot be rewritten.
 */
function targetEntry(model: Model, reshape: Node, pos: number): { value: number; set: (n: number) => void } | undefined {
  const shapeV = slotOf(reshape, 'shape');
  if (shapeV === undefined) return undefined;
  const whole = constOf(shapeV);
  const index = reshape.inputs.indexOf(shapeV);
  if (whole !== undefined) {
    const xs = toNumbers(whole);
    if (pos >= xs.length) return undefined;
    return { value: xs[pos]!, set: (n) => replaceConst(model, reshape, index, ints(xs.map((x, i) => (i === pos ? n : x)))) };
  }
  const concat = shapeV.producer();
  if (concat === undefined || concat.opType !== 'Concat' || concat.domain !== '' || shapeV.uses().length !== 1) return undefined;
  let at = 0;
  for (const [i, v] of concat.inputs.entries()) {
    const len = v?.shape?.length === 1 ? v.shape[0] : v?.shape?.length === 0 ? 1 : undefined;
    if (typeof len !== 'number') return undefined;
    if (pos < at + len) {
      const t = constOf(v);
      if (t === undefined) return undefined;
      const xs = toNumbers(t);
      const k = pos - at;
      return {
        value: xs[k]!,
        set: (n) =>
          replaceConst(model, concat, i, new Tensor('int64', t.dims, BigInt64Array.from(xs.map((x, j) => BigInt(j === k ? n : x))))),
      };
    }
    at += len;
  }
  return undefined;
}

const ints = (xs: readonly number[]): Tensor => new Tensor('int64', [xs.length], BigInt64Array.from(xs.map(BigInt)));
const sameDims = (a: readonly Dim[], b: readonly Dim[]): boolean => a.length === b.length && a.every((d, i) => d !== null && d === b[i]);

/**
 * A head split or merge Reshape, handled here; returns false for any other Reshape (the caller's rule applies).
 * @internal
 */
export function headReshape(ctx: RuleContext, node: Node, x: ChanMap): boolean {
  const inShape = slotOf(node, 'data')?.shape;
  const outShape = node.outputs[0]!.shape;
  if (inShape === undefined || outShape === undefined || x.block !== 1) return false;
  const r = inShape.length;
  // Split: [..., H·Dh] → [..., H, Dh] on the last axis.
  if (outShape.length === r + 1 && x.axis === r - 1 && sameDims(inShape.slice(0, r - 1), outShape.slice(0, r - 1))) {
    const [h, dh] = [outShape[r - 1], outShape[r]];
    if (typeof h !== 'number' || typeof dh !== 'number' || h < 2 || dh < 2 || h * dh !== x.entries.length) return false;
    const entry = targetEntry(ctx.model, node, r - 1);
    if (entry === undefined) {
      ctx.state.fix(x, `${label(node)} splits heads with a head count mc cannot rewrite`);
      return true;
    }
    const heads = new Int32Array(h);
    for (let i = 0; i < h; i++) {
      heads[i] = x.entries[i * dh]!;
      for (let j = 1; j < dh; j++)
        ctx.state.union(x.entries[i * dh]!, x.entries[i * dh + j]!, `${label(node)} splits heads of untraced channels`);
    }
    const out: ChanMap = { entries: heads, axis: r - 1, rank: r + 1, block: 1 };
    ctx.state.member(x, { node: node.name, opType: node.opType, role: 'couple' });
    ctx.state.maps.set(node.outputs[0]!, out);
    for (const e of heads) if (e >= 0) ctx.state.headSize.set(ctx.state.elementRoot[e]!, dh);
    ctx.state.edits.push((removed) => {
      const kept = keptPositions(out, removed).length;
      if (kept !== h && entry.value > 0) entry.set(kept);
    });
    return true;
  }
  // Merge: [..., H, Dh] → [..., H·Dh] with the heads on the second-last axis.
  if (outShape.length === r - 1 && x.axis === r - 2 && sameDims(inShape.slice(0, r - 2), outShape.slice(0, r - 2))) {
    const dh = inShape[r - 1];
    if (typeof dh !== 'number' || outShape[r - 2] !== x.entries.length * dh) return false;
    const entry = targetEntry(ctx.model, node, r - 2);
    if (entry === undefined) {
      ctx.state.fix(x, `${label(node)} merges heads into a width mc cannot rewrite`);
      return true;
    }
    const out: ChanMap = { entries: x.entries, axis: r - 2, rank: r - 1, block: dh };
    ctx.state.member(x, { node: node.name, opType: node.opType, role: 'couple' });
    ctx.state.maps.set(node.outputs[0]!, out);
    ctx.state.edits.push((removed) => {
      const kept = keptPositions(out, removed).length;
      if (kept !== x.entries.length && entry.value > 0) entry.set(kept * dh);
    });
    return true;
  }
  return false;
}

/**
 * MatMul of two activations (attention scores and context): maps on batch axes couple pairwise and carry over; a map
 * on the rows of A or the columns of B moves to the output; one on the contracted axis is fixed.
 * @internal
 */
export const batchedMatMulRule: Rule = (ctx, node, mapped) => {
  const ro = node.outputs[0]!.shape?.length;
  const shapes = node.inputs.map((v) => v?.shape);
  // A 2-D product with a computed weight (no batch axis to carry heads) is a layer whose weight mc cannot rewrite.
  if (ro === undefined || ro < 3) return fixAll(ctx, mapped, `${label(node)} has no constant weight`);
  if (shapes.some((s) => s === undefined)) return fixAll(ctx, mapped, `${label(node)} multiplies activations of unknown rank`);
  let out: ChanMap | undefined;
  const place: number[] = [];
  for (const [i, m] of mapped.entries()) {
    if (m === undefined) continue;
    const rank = shapes[i]!.length;
    const contracted = i === 0 ? rank - 1 : rank - 2;
    if (m.axis === contracted || m.block !== 1) return fixAll(ctx, mapped, `${label(node)} contracts the channels`);
    const axis = m.axis < rank - 2 ? m.axis + (ro - rank) : i === 0 ? ro - 2 : ro - 1;
    place.push(axis);
    if (out === undefined) out = { entries: Int32Array.from(m.entries), axis, rank: ro, block: 1 };
    else if (axis !== out.axis || m.entries.length !== out.entries.length)
      return fixAll(ctx, mapped, `${label(node)} carries channels on two output axes`);
    else
      for (let p = 0; p < m.entries.length; p++) ctx.state.union(out.entries[p]!, m.entries[p]!, `${label(node)} couples untraced heads`);
  }
  if (out === undefined) return;
  // An unmapped operand that is not broadcast along the batch axis brings heads no prunable layer defines.
  for (const [i, m] of mapped.entries()) {
    if (m !== undefined) continue;
    const s = shapes[i]!;
    const a = out.axis - (ro - s.length);
    if (out.axis < ro - 2 && a >= 0 && s[a] !== 1)
      return fixAll(ctx, mapped, `${label(node)} combines the heads with '${node.inputs[i]!.name}', which no prunable layer defines`);
  }
  ctx.state.member(out, { node: node.name, opType: node.opType, role: 'couple' });
  ctx.state.maps.set(node.outputs[0]!, out);
};

/** Softmax / LogSoftmax along another axis than the channels: the channels pass. @internal */
export const softmaxRule: Rule = (ctx, node, mapped) => {
  const x = mapped[0]!;
  const opset = ctx.model.opset('') ?? 13;
  const axis = norm(attrOf(node, 'axis', opset), x.rank);
  // Before opset 13 the input is flattened to 2-D at `axis`: the channels must sit before it.
  if (opset < 13 ? x.axis >= axis : x.axis === axis) return fixAll(ctx, mapped, `${label(node)} normalises over the channels`);
  ctx.state.member(x, { node: node.name, opType: node.opType, role: 'couple' });
  ctx.state.maps.set(node.outputs[0]!, x);
};
