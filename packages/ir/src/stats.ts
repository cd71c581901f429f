import type { Model } from './model.js';
import { opInfo } from './ops/registry.js';
import { inferShapes } from './shape-inference.js';
import type { Value } from './value.js';

/** Size and cost of one node. Parameters are counted at their first consumer. */
export interface NodeStats {
  name: string;
  opType: string;
  domain: string;
  params: number;
  bytes: number;
  macs: number;
}

/** Size and cost of a model. `params` = elements of all initializers (sparse: stored values). */
export interface ModelStats {
  params: number;
  /** Bytes of initializer data (packed sizes for sub-byte types; sparse: values + indices). */
  paramBytes: number;
  macs: number;
  nodeCount: number;
  nodes: NodeStats[];
}

function paramOf(v: Value): { params: number; bytes: number } {
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
  for (const v of [...g.initializers.values(), ...g.sparseInitializers.values()]) {
    const p = paramOf(v);
    params += p.params;
    paramBytes += p.bytes;
  }
  for (const n of g.nodes) {
    let np = 0;
    let nb = 0;
    for (const v of n.inputs) {
      if (v === undefined || counted.has(v) || !(v.isInitializer() || v.constValue !== undefined)) continue;
      if (!v.isInitializer()) continue;
      counted.add(v);
      const p = paramOf(v);
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
