import type { Model } from './model.js';
import type { Node } from './node.js';
import { constantTensor } from './normalize-weights.js';
import { opInfo } from './ops/registry.js';
import { inferShapes } from './shape-inference.js';
import type { Tensor } from './tensor.js';
import type { Value } from './value.js';

/**
 * Size and cost of one node. Parameters are counted once, at their first consumer, whatever form they come in: an
 * initializer, a `Constant` node, or either seen through `Identity` nodes (those count 0).
 */
export interface NodeStats {
  name: string;
  opType: string;
  domain: string;
  params: number;
  bytes: number;
  macs: number;
}

/**
 * Size and cost of a model. `params` = elements of every constant tensor, each counted once: initializers (sparse:
 * stored values) and tensors held by `Constant` nodes (`value`, `value_float(s)`, `value_int(s)`), all dtypes.
 */
export interface ModelStats {
  params: number;
  /** Bytes of initializer data (packed sizes for sub-byte types; sparse: values + indices). */
  paramBytes: number;
  macs: number;
  nodeCount: number;
  nodes: NodeStats[];
}

/** The constant behind `v`, seen through `Identity` nodes: an initializer or a `Constant` node's output. */
function constantSource(v: Value, constants: ReadonlyMap<Value, Tensor>): Value | undefined {
  for (let cur: Value | undefined = v, hops = 0; cur !== undefined && hops < 64; hops++) {
    if (cur.isInitializer() || constants.has(cur)) return cur;
    const p: Node | undefined = cur.producer();
    cur = p?.opType === 'Identity' && p.domain === '' ? p.inputs[0] : undefined;
  }
  return undefined;
}

function paramOf(v: Value, constants: ReadonlyMap<Value, Tensor>): { params: number; bytes: number } {
  const c = constants.get(v);
  if (c !== undefined) return { params: c.size, bytes: c.dtype === 'string' ? 0 : c.byteLength };
  if (v.sparseValue !== undefined) {
    return { params: v.sparseValue.values.size, bytes: v.sparseValue.values.byteLength + v.sparseValue.indices.byteLength };
  }
  const t = v.constValue;
  return t === undefined ? { params: 0, bytes: 0 } : { params: t.size, bytes: t.dtype === 'string' ? 0 : t.byteLength };
}

/**
 * Parameters, bytes and MACs per node and in total. MACs are per sample: symbolic or unknown input dimensions
 * (a dynamic batch) count as 1. Shapes are inferred on a clone, so the model itself is not changed.
 *
 * @example
 * ```ts
 * const { params, macs } = modelStats(model);
 * ```
 */
export function modelStats(model: Model): ModelStats {
  const m = model.clone();
  for (const v of m.graph.inputs) {
    if (v.constValue === undefined && v.shape !== undefined) v.shape = v.shape.map((d) => (typeof d === 'number' ? d : 1));
  }
  inferShapes(m);
  const g = m.graph;
  const counted = new Set<Value>();
  const nodes: NodeStats[] = [];
  let params = 0;
  let paramBytes = 0;
  let macs = 0;
  const constants = new Map<Value, Tensor>();
  for (const n of g.nodes) {
    const t = constantTensor(n);
    if (t !== undefined && n.outputs.length === 1) constants.set(n.outputs[0]!, t);
  }
  for (const v of [...g.initializers.values(), ...g.sparseInitializers.values(), ...constants.keys()]) {
    const p = paramOf(v, constants);
    params += p.params;
    paramBytes += p.bytes;
  }
  for (const n of g.nodes) {
    let np = 0;
    let nb = 0;
    // Constant nodes and Identity nodes of a constant hold no parameter of their own: the reader counts it.
    const holder = constants.has(n.outputs[0]!) || (n.opType === 'Identity' && n.outputs[0] !== undefined && constantSource(n.outputs[0], constants) !== undefined);
    for (const input of holder ? [] : n.inputs) {
      const v = input === undefined ? undefined : constantSource(input, constants);
      if (v === undefined || counted.has(v)) continue;
      counted.add(v);
      const p = paramOf(v, constants);
      np += p.params;
      nb += p.bytes;
    }
    const info = opInfo(n);
    let m = 0;
    if (info?.macs !== undefined) {
      m = info.macs(n, n.inputs.map((v) => v?.shape), n.outputs.map((v) => v.shape));
      if (!Number.isFinite(m)) m = 0;
    }
    macs += m;
    nodes.push({ name: n.name, opType: n.opType, domain: n.domain, params: np, bytes: nb, macs: m });
  }
  return { params, paramBytes, macs, nodeCount: g.nodes.length, nodes };
}
