import { attr, attrOf, type Model, type Node, slotIndex, slotOf, Tensor, toNumbers, type Value, transposePerm } from '@mc/ir';
import { expandBlocks, takeAlong } from '../kernels/slice.js';
import { broadcastAxis, inconsistent, knownDims, replaceConst, type RuleContext } from './util.js';
import { type ChanMap, keptPositions } from './state.js';
import { headReshape, softmaxRule } from './attention.js';

type Rule = (ctx: RuleContext, node: Node, mapped: (ChanMap | undefined)[]) => void;

const label = (n: Node): string => `${n.opType} '${n.name}'`;
const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

function fixAll(ctx: RuleContext, mapped: (ChanMap | undefined)[], why: string): void {
  for (const m of mapped) if (m !== undefined) ctx.state.fix(m, why);
}

/** Sets a constant int64 input (by spec name) of a node, adding the input when absent. */
function setInts(model: Model, node: Node, index: number, xs: readonly number[]): void {
  const t = new Tensor('int64', [xs.length], BigInt64Array.from(xs.map(BigInt)));
  if (node.inputs[index] === undefined)
    node.replaceInput(index, model.graph.addInitializer(model.graph.uniqueName(`${node.name}_split`), t));
  else replaceConst(model, node, index, t);
}

/**
 * Add, Sub, Mul, Div, … (numpy broadcasting): channels at the same position of every operand are one channel (a
 * residual Add prunes all its members identically). A constant holding one value per channel shrinks with them.
 * @internal
 */
export const elementwiseRule: Rule = (ctx, node, mapped) => {
  const { state } = ctx;
  const rank = node.outputs[0]!.shape?.length;
  if (rank === undefined) return fixAll(ctx, mapped, `the output rank of ${label(node)} is unknown`);
  const ms = mapped.filter((m): m is ChanMap => m !== undefined);
  const first = ms[0]!;
  const axis = first.axis + (rank - first.rank);
  const size = first.entries.length * first.block;
  for (const m of ms) {
    if (m.axis + (rank - m.rank) !== axis) return fixAll(ctx, mapped, `${label(node)} combines channels on different axes`);
    if (m.entries.length * m.block !== size) throw inconsistent(node, `operands have ${size} and ${m.entries.length * m.block} channels`);
    if (m.block !== first.block) return fixAll(ctx, mapped, `${label(node)} combines flattened and unflattened channels`);
  }
  const out: ChanMap = { entries: Int32Array.from(first.entries), axis, rank, block: first.block };
  const consts: { index: number; t: Tensor; axis: number }[] = [];
  for (const [i, v] of node.inputs.entries()) {
    if (v === undefined || mapped[i] !== undefined) continue;
    const t = v.constValue;
    // A computed operand (an attention mask) that is broadcast along the channel axis leaves the channels alone.
    const at = v.shape === undefined ? -1 : axis - (rank - v.shape.length);
    if (t === undefined && v.shape !== undefined && (at < 0 || v.shape[at] === 1)) continue;
    const dims = t?.dims ?? knownDims(v.shape);
    const a = dims === undefined ? 'inconsistent' : broadcastAxis(dims, out, rank);
    if (t !== undefined && a === 'inconsistent')
      throw inconsistent(node, `constant '${v.name}' of shape [${t.dims.join(', ')}] does not broadcast over ${size} channels`);
    if (a === -1) continue;
    if (t === undefined || a === 'inconsistent')
      return fixAll(ctx, mapped, `${label(node)} combines the channels with '${v.name}', which no prunable layer defines`);
    consts.push({ index: i, t, axis: a });
  }
  const reason = `${label(node)} couples them with channels no prunable layer defines`;
  for (const m of ms.slice(1)) {
    for (let p = 0; p < m.entries.length; p++) {
      state.union(out.entries[p]!, m.entries[p]!, reason);
      if (out.entries[p]! < 0) out.entries[p] = m.entries[p]!;
    }
  }
  state.member(out, { node: node.name, opType: node.opType, role: consts.length > 0 ? 'channel' : 'couple' });
  if (consts.length > 0) {
    state.edits.push((removed) => {
      const keep = keptPositions(out, removed);
      if (keep.length === out.entries.length) return;
      for (const c of consts) replaceConst(ctx.model, node, c.index, takeAlong(c.t, c.axis, expandBlocks(keep, out.block)));
    });
  }
  state.maps.set(node.outputs[0]!, out);
};

/** Concat along the channel axis lays channels side by side (offsets); along another axis it couples like Add. */
const concatRule: Rule = (ctx, node, mapped) => {
  const ms = mapped.filter((m): m is ChanMap => m !== undefined);
  const first = ms[0]!;
  const rank = first.rank;
  const axis = norm(attrOf(node, 'axis'), rank);
  if (ms.some((m) => m.axis !== first.axis || m.rank !== rank))
    return fixAll(ctx, mapped, `${label(node)} joins channels on different axes`);
  if (axis !== first.axis) {
    if (node.inputs.some((v, i) => v !== undefined && mapped[i] === undefined))
      return fixAll(ctx, mapped, `${label(node)} joins the channels with untraced ones`);
    return elementwiseLike(ctx, node, ms);
  }
  if (ms.some((m) => m.block !== 1)) return fixAll(ctx, mapped, `${label(node)} joins flattened channels`);
  const parts: Int32Array[] = [];
  for (const [i, v] of node.inputs.entries()) {
    if (v === undefined) continue;
    const m = mapped[i];
    if (m !== undefined) parts.push(m.entries);
    else {
      const d = v.shape?.[axis];
      if (typeof d !== 'number') return fixAll(ctx, mapped, `${label(node)} joins an input of unknown channel count`);
      parts.push(new Int32Array(d).fill(-1));
    }
  }
  const entries = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    entries.set(p, o);
    o += p.length;
  }
  const out: ChanMap = { entries, axis, rank, block: 1 };
  ctx.state.member(out, { node: node.name, opType: node.opType, role: 'couple' });
  ctx.state.maps.set(node.outputs[0]!, out);
};

function elementwiseLike(ctx: RuleContext, node: Node, ms: ChanMap[]): void {
  const first = ms[0]!;
  const out: ChanMap = { ...first, entries: Int32Array.from(first.entries) };
  for (const m of ms.slice(1)) {
    if (m.entries.length !== out.entries.length || m.block !== out.block)
      throw inconsistent(node, `inputs have ${out.entries.length} and ${m.entries.length} channels`);
    for (let p = 0; p < m.entries.length; p++) ctx.state.union(out.entries[p]!, m.entries[p]!, `${label(node)} couples untraced channels`);
  }
  ctx.state.member(out, { node: node.name, opType: node.opType, role: 'couple' });
  for (const o of node.outputs) ctx.state.maps.set(o, out);
}

/** Split along the channel axis: each output holds a range of channels; the split sizes are rewritten. */
const splitRule: Rule = (ctx, node, mapped) => {
  const x = mapped[0];
  if (x === undefined || mapped.slice(1).some((m) => m !== undefined))
    return fixAll(ctx, mapped, `${label(node)} reads the channels as split sizes`);
  const axis = norm(attrOf(node, 'axis'), x.rank);
  if (axis !== x.axis) {
    for (const o of node.outputs) ctx.state.maps.set(o, x);
    return;
  }
  if (x.block !== 1) return fixAll(ctx, mapped, `${label(node)} splits flattened channels`);
  const total = x.entries.length;
  const splitIn = slotOf(node, 'split');
  const opset = ctx.model.opset('') ?? 13;
  let sizes: number[];
  if (splitIn !== undefined) {
    if (splitIn.constValue === undefined) return fixAll(ctx, mapped, `${label(node)} has computed split sizes`);
    sizes = toNumbers(splitIn.constValue);
  } else if (attrOf(node, 'split') !== undefined) sizes = attrOf(node, 'split')!;
  else {
    const k = node.outputs.length;
    const each = Math.ceil(total / k);
    sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(each, total - i * each)));
  }
  if (sizes.reduce((a, b) => a + b, 0) !== total || sizes.length !== node.outputs.length)
    throw inconsistent(node, `split sizes [${sizes.join(', ')}] do not cover ${total} channels`);
  const outs: ChanMap[] = [];
  let o = 0;
  for (const [i, s] of sizes.entries()) {
    const m: ChanMap = { ...x, entries: x.entries.slice(o, o + s) };
    o += s;
    outs.push(m);
    ctx.state.maps.set(node.outputs[i]!, m);
    if (!m.entries.includes(-1)) ctx.state.constraints.push([...m.entries]);
  }
  ctx.state.member(x, { node: node.name, opType: node.opType, role: 'couple' });
  const splitIndex = node.inputs.length > 1 || opset >= 13 ? slotIndex(node, 'split') : -1;
  ctx.state.edits.push((removed) => {
    const now = outs.map((m) => keptPositions(m, removed).length);
    if (now.every((n, i) => n === sizes[i])) return;
    if (opset >= 13) {
      setInts(ctx.model, node, splitIndex, now);
      node.attributes.delete('num_outputs');
    } else node.setAttr('split', attr.ints(now));
  });
};

/** Flatten at the channel axis: each channel becomes a block of (spatial size) consecutive features. */
function flattenLike(ctx: RuleContext, node: Node, x: ChanMap, input: Value, from: number, why: string | undefined): ChanMap | undefined {
  if (why !== undefined) {
    ctx.state.fix(x, why);
    return undefined;
  }
  const rest = knownDims(input.shape?.slice(from + 1));
  if (rest === undefined) {
    ctx.state.fix(x, `${label(node)}: the spatial size after the channels is unknown`);
    return undefined;
  }
  const out: ChanMap = { entries: x.entries, axis: 1, rank: 2, block: x.block * prod(rest) };
  ctx.state.member(x, { node: node.name, opType: node.opType, role: 'couple' });
  ctx.state.maps.set(node.outputs[0]!, out);
  return out;
}

const flattenRule: Rule = (ctx, node, mapped) => {
  const x = mapped[0]!;
  const k = norm(attrOf(node, 'axis'), x.rank);
  // Axes between the flatten point and the channels must be 1 (e.g. NHWC [N, 1, 1, C] after a global pool).
  const between = knownDims(slotOf(node, 'input')!.shape?.slice(k, x.axis));
  const ones = between !== undefined && prod(between) === 1;
  flattenLike(
    ctx,
    node,
    x,
    slotOf(node, 'input')!,
    x.axis,
    k > x.axis || !ones || x.axis === 0 ? `${label(node)} (axis ${k}) mixes the channel axis ${x.axis} with others` : undefined,
  );
};

/** Transpose moves the channel axis to where the permutation puts it. */
const transposeRule: Rule = (ctx, node, mapped) => {
  const x = mapped[0]!;
  const perm = transposePerm(node, x.rank);
  if (x.block !== 1 || perm.length !== x.rank) return fixAll(ctx, mapped, `${label(node)} moves flattened channels`);
  ctx.state.member(x, { node: node.name, opType: node.opType, role: 'couple' });
  ctx.state.maps.set(node.outputs[0]!, { ...x, axis: perm.indexOf(x.axis) });
};

/** Reshape is followed only where it provably flattens from the channel axis ([N, C, …] → [N, C·…]). */
const reshapeRule: Rule = (ctx, node, mapped) => {
  const x = mapped[0];
  if (x === undefined || mapped.slice(1).some((m) => m !== undefined))
    return fixAll(ctx, mapped, `${label(node)} reads the channels as a shape`);
  if (headReshape(ctx, node, x)) return;
  const shapeV = slotOf(node, 'shape');
  const target = shapeV?.constValue === undefined ? undefined : toNumbers(shapeV.constValue);
  const inShape = slotOf(node, 'data')!.shape;
  const rest = knownDims(inShape?.slice(x.axis + 1));
  let why: string | undefined;
  if (target === undefined) why = `${label(node)} has a computed target shape`;
  else if (target.length !== 2 || x.axis !== 1 || x.rank < 2 || rest === undefined)
    why = `${label(node)} is not a flatten from the channel axis`;
  else {
    const features = x.entries.length * x.block * prod(rest);
    const [t0, t1] = target as [number, number];
    const batch = inShape?.[0];
    const keepsBatch =
      (t0 === 0 && attrOf(node, 'allowzero') === 0) || (typeof batch === 'number' && t0 === batch) || (t0 === -1 && t1 === features);
    if (!keepsBatch || !(t1 === -1 || t1 === features)) why = `${label(node)} to [${target.join(', ')}] is not provably a flatten`;
  }
  const out = flattenLike(ctx, node, x, slotOf(node, 'data')!, x.axis, why);
  if (out === undefined || shapeV === undefined) return;
  const [t0] = target as [number, number];
  const index = node.inputs.indexOf(shapeV);
  ctx.state.edits.push((removed) => {
    const keep = keptPositions(out, removed);
    if (keep.length === out.entries.length) return;
    setInts(ctx.model, node, index, t0 === -1 ? [-1, keep.length * out.block] : [t0, -1]);
  });
};

/** Rules for ops that move channels around, keyed by op type (facts only pruning needs). @internal */
export const coupleRules = new Map<string, Rule>([
  ['Concat', concatRule],
  ['Split', splitRule],
  ['Flatten', flattenRule],
  ['Reshape', reshapeRule],
  ['Transpose', transposeRule],
  ['Softmax', softmaxRule],
  ['LogSoftmax', softmaxRule],
]);
