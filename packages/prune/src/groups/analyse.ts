import { attr, attrOf, biasOf, type Model, type Node, opInfo, type Tensor, weightOf } from '@mc/ir';
import { expandBlocks, takeAlong } from '../kernels/slice.js';
import { coupleRules, elementwiseRule } from './couple.js';
import { batchedMatMulRule } from './attention.js';
import { type ChanMap, ChannelState, keptPositions } from './state.js';
import { broadcastAxis, inconsistent, replaceConst, type RuleContext } from './util.js';

const label = (n: Node): string => `${n.opType} '${n.name}'`;

/** A fresh map for the outputs of a root. */
function rootMap(offset: number, count: number, axis: number, rank: number): ChanMap {
  const entries = new Int32Array(count);
  for (let i = 0; i < count; i++) entries[i] = offset + i;
  return { entries, axis, rank, block: 1 };
}

/**
 * Walks the graph in order and builds the channel dependency state: which channels of which layers must be removed
 * together, which cannot be removed (with reasons), and the rewrites that remove them. Shapes must be inferred first.
 * @internal
 */
export function analyse(model: Model, exclude: ReadonlySet<string>): ChannelState {
  const state = new ChannelState();
  const ctx: RuleContext = { state, model, exclude };
  for (const node of model.graph.nodes) {
    const info = opInfo(node);
    const mapped = node.inputs.map((v) => (v === undefined ? undefined : state.maps.get(v)));
    const anyMapped = mapped.some((m) => m !== undefined);
    if (info?.channels === 'producer') {
      if (node.opType === 'MatMul' && node.domain === '' && weightOf(node) === undefined) {
        if (anyMapped) batchedMatMulRule(ctx, node, mapped);
        continue;
      }
      layerRule(ctx, node, mapped);
      continue;
    }
    if (!anyMapped) continue;
    const couple = coupleRules.get(node.opType) ?? (info?.channels === 'elementwise' ? elementwiseRule : undefined);
    if (node.domain === '' && couple !== undefined) {
      couple(ctx, node, mapped);
      continue;
    }
    if (info !== undefined && node.domain === '' && (info.channels === 'channelwise' || info.channels === 'passthrough')) {
      channelwiseRule(ctx, node, mapped);
      continue;
    }
    for (const m of mapped) if (m !== undefined) state.fix(m, `${label(node)} reads the channels and mc cannot rewrite it`);
  }
  for (const out of model.graph.outputs) {
    const m = state.maps.get(out);
    if (m !== undefined) state.fix(m, `graph output '${out.name}' keeps its shape`);
  }
  return state;
}

/** Conv / ConvTranspose / Gemm / MatMul: input channels shrink (in), output channels are a new root (out). */
function layerRule(ctx: RuleContext, node: Node, mapped: (ChanMap | undefined)[]): void {
  const { state } = ctx;
  const w = weightOf(node);
  const x = mapped[0];
  // Any mapped input other than the data input (a computed weight or bias) cannot be rewritten.
  for (const [i, m] of mapped.entries())
    if (i > 0 && m !== undefined) state.fix(m, `${label(node)} reads the channels as a weight or bias`);
  if (w === undefined || w.tensor === undefined || !w.value.isInitializer()) {
    if (x !== undefined) state.fix(x, `${label(node)} has no constant weight`);
    return;
  }
  const wt = w.tensor;
  const weight = { ...w, tensor: wt };
  const excluded = ctx.exclude.has(node.name);
  // A weight read by other layers too (tied weights, or identical tensors an exporter shares) is copy on write: the
  // edits give this layer its own pruned initializer (replaceConst), and `retie` shares the copies again where they
  // come out identical. Only an overridable graph input or a graph output is truly fixed.
  const shared = (w.value.isGraphInput() && ctx.model.irVersion >= 4) || w.value.isGraphOutput();
  const outShape = node.outputs[0]!.shape;
  const isConv = node.opType === 'Conv' || node.opType === 'ConvTranspose';
  const g = w.group;
  const cout = wt.dims[w.outAxis]! * (node.opType === 'ConvTranspose' ? g : 1);
  const cinW = wt.dims[w.inAxis]!;
  if (!isConv && wt.dims.length !== 2) {
    if (x !== undefined) state.fix(x, `${label(node)} has a ${wt.dims.length}-D weight`);
    return;
  }
  // Depthwise conv (one filter per input channel): a per-channel member of its input's group.
  if (node.opType === 'Conv' && g > 1 && cinW === 1 && cout === g && x !== undefined) {
    if (x.entries.length !== g || x.block !== 1) throw inconsistent(node, `input has ${x.entries.length * x.block} channels, group = ${g}`);
    if (excluded || shared) {
      state.fix(x, excluded ? `${label(node)} is excluded` : `${label(node)} shares its weight`);
    } else {
      state.member(x, { node: node.name, opType: node.opType, role: 'channel' });
      state.edits.push((removed) => {
        const keep = keptPositions(x, removed);
        if (keep.length === x.entries.length) return;
        replaceConst(ctx.model, node, w.index, takeAlong(wt, w.outAxis, keep));
        const b = biasOf(node);
        if (b?.tensor !== undefined) replaceConst(ctx.model, node, b.index, takeAlong(b.tensor, 0, keep));
        node.setAttr('group', attr.int(keep.length));
      });
    }
    state.maps.set(node.outputs[0]!, { ...x, rank: outShape?.length ?? x.rank });
    return;
  }
  // Input side.
  if (x !== undefined) {
    const cin = cinW * g;
    let why: string | undefined;
    if (g > 1) why = `grouped ${label(node)} (group ${g}) couples its input channels in groups`;
    else if (excluded) why = `${label(node)} is excluded`;
    else if (shared) why = `${label(node)} shares its weight`;
    else if (node.opType === 'Gemm' && attrOf(node, 'transA') === 1) why = `${label(node)} has transA = 1`;
    else if (isConv ? x.axis !== 1 : x.axis !== x.rank - 1)
      why = `${label(node)} contracts axis ${isConv ? 1 : x.rank - 1}, the channels sit on axis ${x.axis}`;
    if (why === undefined && x.entries.length * x.block !== cin) {
      throw inconsistent(node, `input has ${x.entries.length * x.block} channels, the weight expects ${cin}`);
    }
    if (why !== undefined) state.fix(x, why);
    else {
      state.member(x, { node: node.name, opType: node.opType, role: 'in' });
      state.edits.push((removed) => {
        const keep = keptPositions(x, removed);
        if (keep.length === x.entries.length) return;
        const cur = node.inputs[w.index]!.constValue!;
        replaceConst(ctx.model, node, w.index, takeAlong(cur, w.inAxis, expandBlocks(keep, x.block)));
      });
    }
  }
  // Output side: a new root.
  // A convolution's output has the rank of its weight; a Gemm's is 2; a MatMul's is known from shapes only.
  const rank = isConv ? wt.dims.length : node.opType === 'Gemm' ? 2 : outShape?.length;
  const root = state.addRoot(node, weight, cout);
  const map = rootMap(root.offset, cout, isConv || rank === undefined ? 1 : rank - 1, rank ?? 0);
  state.maps.set(node.outputs[0]!, map);
  let why: string | undefined;
  if (rank === undefined) why = `the output rank of ${label(node)} is unknown`;
  else if (g > 1) why = `grouped ${label(node)} (group ${g}) keeps its output channels`;
  else if (excluded) why = `${label(node)} is excluded`;
  else if (shared) why = `${label(node)} shares its weight`;
  const bias = biasOf(node);
  let biasAxis = -1;
  if (why === undefined && bias !== undefined) {
    const bt = bias.tensor;
    // A bias shared with other layers (torch.onnx shares identical zero biases through Identity) is copy on write too.
    if (
      bt === undefined ||
      !bias.value.isInitializer() ||
      (bias.value.isGraphInput() && ctx.model.irVersion >= 4) ||
      bias.value.isGraphOutput()
    ) {
      why = `the bias of ${label(node)} is not a constant`;
    } else if (bt.size !== 1) {
      biasAxis = bt.dims.length - 1;
      if (bt.dims[biasAxis] !== cout || bt.size !== cout) why = `the bias of ${label(node)} has shape [${bt.dims.join(', ')}]`;
    }
  }
  if (why !== undefined) {
    state.fix(map, why);
    return;
  }
  state.edits.push((removed) => {
    const keep: number[] = [];
    for (let c = 0; c < cout; c++) if (!removed(root.offset + c)) keep.push(c);
    if (keep.length === cout) return;
    replaceConst(ctx.model, node, w.index, takeAlong(node.inputs[w.index]!.constValue!, w.outAxis, keep));
    if (bias?.tensor !== undefined && biasAxis >= 0) replaceConst(ctx.model, node, bias.index, takeAlong(bias.tensor, biasAxis, keep));
  });
}

/** BatchNormalization, InstanceNormalization, PRelu, activations, pools: channels pass; per-channel params shrink. */
function channelwiseRule(ctx: RuleContext, node: Node, mapped: (ChanMap | undefined)[]): void {
  const { state } = ctx;
  const x = mapped[0];
  for (const [i, m] of mapped.entries()) if (i > 0 && m !== undefined) state.fix(m, `${label(node)} reads the channels as a parameter`);
  if (x === undefined) return;
  const extra = node.outputs.slice(1).some((o) => o.uses().length > 0 || o.isGraphOutput());
  if (extra) {
    state.fix(x, `${label(node)} has a second output in use`);
    return;
  }
  const info = opInfo(node)!;
  const isNorm = info.params.channel !== undefined && node.opType !== 'PRelu';
  const params: { index: number; t: Tensor; axis: number }[] = [];
  for (let i = 1; i < node.inputs.length; i++) {
    const v = node.inputs[i];
    if (v === undefined) continue;
    const t = v.constValue;
    if (info.channels === 'passthrough') continue; // Clip bounds, Dropout ratio: scalars
    if (t === undefined) {
      state.fix(x, `${label(node)} has a computed parameter '${v.name}'`);
      return;
    }
    const c = x.entries.length * x.block;
    if (isNorm) {
      if (x.axis !== 1 || x.block !== 1) {
        state.fix(x, `${label(node)} normalises axis 1, the channels sit on axis ${x.axis}`);
        return;
      }
      if (t.size !== c) throw inconsistent(node, `parameter '${v.name}' has ${t.size} values for ${c} channels`);
      params.push({ index: i, t, axis: 0 });
    } else {
      const a = broadcastAxis(t.dims, x);
      if (a === 'inconsistent')
        throw inconsistent(node, `parameter '${v.name}' of shape [${t.dims.join(', ')}] does not broadcast over ${c} channels`);
      if (a >= 0) params.push({ index: i, t, axis: a });
    }
  }
  if (node.opType === 'BatchNormalization' && params[0] !== undefined) {
    const g = params[0].t.data as Float32Array;
    for (let i = 0; i < x.entries.length; i++) {
      const e = x.entries[i]!;
      if (e >= 0) state.bnScore[e] = Math.abs(g[i] ?? NaN);
    }
  }
  if (params.length > 0 || ctx.exclude.has(node.name)) {
    if (ctx.exclude.has(node.name)) state.fix(x, `${label(node)} is excluded`);
    state.member(x, { node: node.name, opType: node.opType, role: 'channel' });
    state.edits.push((removed) => {
      const keep = keptPositions(x, removed);
      if (keep.length === x.entries.length) return;
      for (const p of params) replaceConst(ctx.model, node, p.index, takeAlong(p.t, p.axis, expandBlocks(keep, x.block)));
    });
  }
  const rank = node.outputs[0]!.shape?.length ?? x.rank;
  state.maps.set(node.outputs[0]!, { ...x, rank });
}
