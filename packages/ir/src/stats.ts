import { type AssumedDim, bindInputDims, type DimSizesOptions } from './input-dims.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import { constantTensor } from './normalize-weights.js';
import { inputIndex } from './ops/define.js';
import { opInfo } from './ops/registry.js';
import { inferShapes } from './shape-inference.js';
import { evalDim } from './symbolic.js';
import type { Tensor } from './tensor.js';
import type { Shape } from './types.js';
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
  /** Dense multiply-accumulates: what onnxruntime executes. */
  macs: number;
  /** MACs with non-zero weights only (`macs` × the weight's density); equal to `macs` for ops without a weight. */
  effectiveMacs: number;
}

/**
 * Size and cost of a model. `params` = elements of every constant tensor, each counted once: initializers (sparse:
 * stored values) and tensors held by `Constant` nodes (`value`, `value_float(s)`, `value_int(s)`), all dtypes.
 */
export interface ModelStats {
  params: number;
  /** Bytes of initializer data (packed sizes for sub-byte types; sparse: values + indices). */
  paramBytes: number;
  /**
   * Dense MACs for the input sizes in `dims`. This is what onnxruntime executes: it densifies sparse initializers at
   * load and has no kernels that skip unstructured zeros.
   */
  macs: number;
  /** MACs that touch non-zero weights (unstructured pruning lowers this, not `macs`). */
  effectiveMacs: number;
  /** The size of every symbolic input dimension used for `macs` (given or assumed). */
  dims: Record<string, number>;
  /** Symbolic input dimensions that took a default size (batch 1, sequence 128, height/width 224, other 1). */
  assumed: AssumedDim[];
  /** Nodes with a MAC rule whose shapes stayed unknown; their MACs count as 0. */
  uncounted: string[];
  nodeCount: number;
  nodes: NodeStats[];
}

/** Sizes for symbolic input dims: concrete input shapes (`{input_ids: [1, 128]}`) and named dims (`{batch: 4}`). */
export type StatsOptions = DimSizesOptions;

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

function nonZeros(t: Tensor): number | undefined {
  if (t.isLazy || t.dtype === 'string' || t.dtype === 'bool') return undefined;
  const d = t.data as ArrayLike<number | bigint>;
  let n = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0 && d[i] !== 0n) n++;
  return t.dtype === 'float32' || t.dtype === 'float64' || t.dtype.startsWith('int') || t.dtype.startsWith('uint') ? n : undefined;
}

/**
 * Fraction of non-zero weights of a layer: a dense or sparse initializer, or a weight expanded at load from packed
 * non-zeros (`ScatterElements` of the values into zeros, then Reshape/Identity). 1 when unknown.
 */
function weightDensity(node: Node): number {
  const info = opInfo(node);
  const spec = info?.params.weight;
  if (info === undefined || spec === undefined) return 1;
  let v = node.inputs[inputIndex(info, spec.input)];
  // The weight's size; Reshape, Identity and Transpose keep it.
  const size = v?.shape?.every((d) => typeof d === 'number') ? (v.shape as number[]).reduce((a, b) => a * b, 1) : undefined;
  for (let hops = 0; v !== undefined && hops < 4; hops++) {
    if (v.constValue !== undefined) {
      const nz = nonZeros(v.constValue);
      return nz === undefined || v.constValue.size === 0 ? 1 : nz / v.constValue.size;
    }
    if (v.sparseValue !== undefined) {
      const nz = nonZeros(v.sparseValue.values);
      const dense = v.sparseValue.dims.reduce((a, b) => a * b, 1);
      return nz === undefined || dense === 0 ? 1 : nz / dense;
    }
    const p = v.producer();
    if (p === undefined || p.domain !== '') return 1;
    if (p.opType === 'ScatterElements' || p.opType === 'ScatterND') {
      const updates = p.inputs[2]?.constValue;
      const nz = updates === undefined ? undefined : nonZeros(updates);
      return nz === undefined || size === undefined || size === 0 ? 1 : Math.min(1, nz / size);
    }
    if (p.opType !== 'Reshape' && p.opType !== 'Identity' && p.opType !== 'Transpose') return 1;
    v = p.inputs[0];
  }
  return 1;
}

/**
 * Parameters, bytes and MACs per node and in total, for concrete sizes of the symbolic input dimensions.
 *
 * Shapes are inferred symbolically on a clone (the model is not changed), then evaluated with the sizes from
 * `opts.inputShapes` and `opts.dims`; symbolic input dims given no size take defaults (batch-like 1, sequence-like 128,
 * height/width 224, other 1), listed in `assumed`. `macs` is the dense count, which onnxruntime executes; `effectiveMacs` counts only
 * non-zero weights.
 *
 * @example
 * ```ts
 * const { macs, assumed } = modelStats(gpt, { inputShapes: { input_ids: [1, 64] } });
 * ```
 */
export function modelStats(model: Model, opts: StatsOptions = {}): ModelStats {
  const m = model.clone();
  const { sizes, assumed } = bindInputDims(m, opts);
  // Symbolic dims declared on intermediate values (exporters' 'Reshape_dim_0') say less than inference does.
  for (const n of m.graph.nodes) {
    if (opInfo(n) === undefined) continue;
    for (const o of n.outputs)
      if (o.shape?.some((d) => typeof d === 'string')) o.shape = o.shape.map((d) => (typeof d === 'number' ? d : null));
  }
  inferShapes(m);
  const g = m.graph;
  const counted = new Set<Value>();
  const nodes: NodeStats[] = [];
  const uncounted: string[] = [];
  let params = 0;
  let paramBytes = 0;
  let macs = 0;
  let effectiveMacs = 0;
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
  const concrete = (s: Shape | undefined): Shape | undefined =>
    s?.map((d) => {
      const n = evalDim(d, sizes);
      return n === undefined || n < 0 ? null : n;
    });
  for (const n of g.nodes) {
    let np = 0;
    let nb = 0;
    // Constant nodes and Identity nodes of a constant hold no parameter of their own: the reader counts it.
    const holder =
      constants.has(n.outputs[0]!) ||
      (n.opType === 'Identity' && n.outputs[0] !== undefined && constantSource(n.outputs[0], constants) !== undefined);
    for (const input of holder ? [] : n.inputs) {
      const v = input === undefined ? undefined : constantSource(input, constants);
      if (v === undefined || counted.has(v)) continue;
      counted.add(v);
      const p = paramOf(v, constants);
      np += p.params;
      nb += p.bytes;
    }
    const info = opInfo(n);
    let nm = 0;
    let eff = 0;
    if (info?.macs !== undefined) {
      nm = info.macs(
        n,
        n.inputs.map((v) => concrete(v?.shape ?? v?.constValue?.dims ?? v?.sparseValue?.dims)),
        n.outputs.map((v) => concrete(v.shape)),
      );
      if (!Number.isFinite(nm) || nm < 0) {
        uncounted.push(n.name || `${n.opType}#${nodes.length}`);
        nm = 0;
      }
      eff = nm === 0 ? 0 : Math.round(nm * weightDensity(n));
    }
    macs += nm;
    effectiveMacs += eff;
    nodes.push({ name: n.name, opType: n.opType, domain: n.domain, params: np, bytes: nb, macs: nm, effectiveMacs: eff });
  }
  return { params, paramBytes, macs, effectiveMacs, dims: Object.fromEntries(sizes), assumed, uncounted, nodeCount: g.nodes.length, nodes };
}
