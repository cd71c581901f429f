import { McError, type Model, type Node, type Shape, type Tensor, type Value } from '@mc/ir';
import type { ChanMap, ChannelState } from './state.js';

const label = (n: Node): string => `${n.opType} '${n.name}'`;

/** Everything a rule needs. @internal */
export interface RuleContext {
  state: ChannelState;
  model: Model;
  exclude: ReadonlySet<string>;
}

/** Replaces input `index` of `node` with a new initializer holding `t` (the old one is dropped when unused). @internal */
export function replaceConst(model: Model, node: Node, index: number, t: Tensor): void {
  const old = node.inputs[index]!;
  const g = model.graph;
  const v = g.addInitializer(g.uniqueName(old.name), t);
  node.replaceInput(index, v);
  // IR < 4 lists every initializer among the graph inputs: the new one takes the old one's place there.
  const at = g.inputs.indexOf(old);
  if (at >= 0 && model.irVersion < 4 && old.isInitializer() && old.uses().length === 0) g.inputs[at] = v;
  if (old.isInitializer() && old.uses().length === 0 && !old.isGraphOutput() && !old.isGraphInput()) g.removeInitializer(old.name);
}

/**
 * Where a constant of dims `dims` meets the channel axis of `x` under numpy broadcasting: its axis index when it holds
 * one value per channel, -1 when it is broadcast along the channels, 'inconsistent' otherwise.
 * @internal
 */
export function broadcastAxis(dims: readonly number[], x: ChanMap, outRank = x.rank): number | 'inconsistent' {
  const a = x.axis - (outRank - dims.length);
  if (a < 0 || a >= dims.length || dims[a] === 1) return -1;
  return dims[a] === x.entries.length * x.block ? a : 'inconsistent';
}

/** `E_FORMAT` for a group whose tensors disagree on the channel count. @internal */
export function inconsistent(node: Node, what: string): McError {
  return new McError('E_FORMAT', `inconsistent channel shapes at ${label(node)}: ${what}; the model is malformed (check it with onnx.checker or mc inspect)`, {
    context: { node: node.name, opType: node.opType },
  });
}

/** The rank of a value, when known. @internal */
export function rankOf(v: Value | undefined): number | undefined {
  return v?.shape?.length;
}

/** The known dims of a shape, or undefined. @internal */
export function knownDims(s: Shape | undefined): number[] | undefined {
  if (s === undefined || s.some((d) => typeof d !== 'number')) return undefined;
  return s as number[];
}
