import { McError, type Model, type Node, type Shape, type Tensor, type Value } from '@mc/ir';
import type { ChanMap, ChannelState } from './state.js';

const label = (n: Node): string => `${n.opType} '${n.name}'`;

/** Everything a rule needs. @internal */
export interface RuleContext {
  state: ChannelState;
  model: Model;
  exclude: ReadonlySet<string>;
}

/** `value.meta` key: the initializer a pruned copy came from (for {@link retie}). */
const ORIGIN = 'prune.origin';

/**
 * Replaces input `index` of `node` with a new initializer holding `t` (the old one is dropped when unused). A shared
 * old initializer stays with its other readers: this reader gets its own copy (copy on write). @internal
 */
export function replaceConst(model: Model, node: Node, index: number, t: Tensor): void {
  const old = node.inputs[index]!;
  const g = model.graph;
  const v = g.addInitializer(g.uniqueName(old.name), t);
  v.meta.set(ORIGIN, old.meta.get(ORIGIN) ?? old);
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
  return new McError(
    'E_FORMAT',
    `inconsistent channel shapes at ${label(node)}: ${what}; the model is malformed (check it with onnx.checker or mc inspect)`,
    {
      context: { node: node.name, opType: node.opType },
    },
  );
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

function sameTensor(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.dtype === 'string' || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i]))
    return false;
  const x = a.data as ArrayBufferView;
  const y = b.data as ArrayBufferView;
  return Buffer.compare(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), new Uint8Array(y.buffer, y.byteOffset, y.byteLength)) === 0;
}

/**
 * Shares again the pruned copies of one shared initializer that came out identical (a weight pruned the same way for
 * all its readers stays one parameter). Returns how many copies went. @internal
 */
export function retie(model: Model): number {
  const g = model.graph;
  const byOrigin = new Map<unknown, Value[]>();
  for (const v of g.initializers.values()) {
    const o = v.meta.get(ORIGIN);
    if (o === undefined || v.constValue === undefined || v.isGraphInput() || v.isGraphOutput()) continue;
    byOrigin.set(o, [...(byOrigin.get(o) ?? []), v]);
  }
  for (const v of g.initializers.values()) v.meta.delete(ORIGIN); // a cache of this run only
  let n = 0;
  for (const list of byOrigin.values()) {
    const kept: Value[] = [];
    for (const v of list) {
      const same = kept.find((k) => sameTensor(k.constValue!, v.constValue!));
      if (same === undefined) kept.push(v);
      else {
        v.replaceAllUsesWith(same);
        g.removeInitializer(v.name);
        n++;
      }
    }
  }
  return n;
}
