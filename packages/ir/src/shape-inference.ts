import type { DType } from './dtype.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { ShapeContext } from './ops/define.js';
import { opInfo } from './ops/registry.js';
import { normalizeDim } from './symbolic.js';
import { toNumbers } from './tensor.js';
import type { Dim, Shape } from './types.js';
import type { Value } from './value.js';

/** Tensors up to this many elements have their contents followed as shape arithmetic. */
const MAX_VALUE = 64;

/**
 * Fills `value.shape`/`value.dtype` for outputs of registered ops where they are unknown; keeps what is known.
 * Dims may be symbolic: a graph input's `'batch'` flows through the graph, and ops derive expressions from it
 * (`'batch*sequence'` after a Flatten, `'past + sequence'` after a Concat; see `dimMul`, `evalDim`). Shape arithmetic
 * is folded: constants (initializers, Constant nodes) and the contents of small integer tensors computed from `Shape`
 * outputs feed shape-like inputs such as Reshape's target, so `Shape → Gather → Concat → Reshape` keeps its symbols.
 *
 * @example
 * ```ts
 * inferShapes(model);
 * model.graph.outputs[0]!.shape; // ['batch', 'sequence', 256]
 * ```
 */
export function inferShapes(model: Model): void {
  inferGraph(model.graph);
}

function constantNodeValue(v: Value) {
  const p = v.producer();
  if (p?.opType !== 'Constant' || p.domain !== '') return undefined;
  const a = p.attr('value');
  return a?.type === 'TENSOR' ? a.value : undefined;
}

/** Contents of a small integer constant, or undefined. */
function constContents(v: Value): Dim[] | undefined {
  const t = v.constValue ?? constantNodeValue(v);
  if (t === undefined || t.size > MAX_VALUE || (t.dtype !== 'int64' && t.dtype !== 'int32' && t.dtype !== 'bool')) return undefined;
  return toNumbers(t);
}

function inferGraph(g: Graph): void {
  // Readers may leave an initializer's type unset (ONNX does not require value_info for it); its tensor knows it.
  for (const v of g.initializers.values()) {
    const t = v.constValue;
    if (t === undefined) continue;
    if (v.shape === undefined) v.shape = t.dims;
    if (v.dtype === undefined) v.dtype = t.dtype;
  }
  // Sparse initializers likewise: their dense dims and the dtype of their values.
  for (const v of g.sparseInitializers.values()) {
    const s = v.sparseValue;
    if (s === undefined) continue;
    if (v.shape === undefined) v.shape = s.dims;
    if (v.dtype === undefined) v.dtype = s.values.dtype;
  }
  const values = new Map<Value, Dim[]>();
  const constDims = (v: Value | undefined): Dim[] | undefined => {
    if (v === undefined) return undefined;
    const known = values.get(v);
    if (known !== undefined) return known;
    const c = constContents(v);
    if (c !== undefined) values.set(v, c);
    return c;
  };
  for (const node of g.nodes) {
    if (node.opType === 'Constant' && node.domain === '') {
      // A damaged file may hold a Constant without outputs: nothing to infer.
      const out = node.outputs[0];
      const t = out === undefined ? undefined : constantNodeValue(out);
      if (out !== undefined && t !== undefined && out.shape === undefined) {
        out.dtype = t.dtype;
        out.shape = t.dims;
      }
      continue;
    }
    const info = opInfo(node);
    if (info === undefined) continue;
    const vals = node.inputs.map(constDims);
    const ctx: ShapeContext = {
      node,
      // initializers read without a type still know their dims
      shapes: node.inputs.map((v) => v?.shape ?? v?.constValue?.dims ?? v?.sparseValue?.dims),
      dtypes: node.inputs.map((v) => v?.dtype),
      consts: vals.map((d) => (d?.every((x) => typeof x === 'number') ? (d as number[]) : undefined)),
      values: vals,
    };
    let shapes: (Shape | undefined)[] = [];
    let dtypes: (DType | undefined)[] = [];
    let outValues: (Dim[] | undefined)[] = [];
    try {
      shapes = info.inferShape?.(ctx) ?? [];
      dtypes = info.inferDType?.(ctx) ?? node.outputs.map(() => ctx.dtypes[0]);
      outValues = info.inferValue?.(ctx) ?? [];
    } catch {
      continue; // malformed attributes: leave shapes unknown; the checker of the technique reports them
    }
    for (const [i, o] of node.outputs.entries()) {
      const inferred = shapes[i]?.map(normalizeDim);
      if (o.shape === undefined && inferred !== undefined) o.shape = inferred;
      else if (o.shape !== undefined && inferred !== undefined && o.shape.length === inferred.length) {
        // A declared symbolic or unknown dim is refined by an inferred size, and an unknown one by an inferred symbol;
        // known sizes are never overwritten.
        const known = o.shape;
        const refined = known.map((d, k) =>
          typeof d === 'number'
            ? d
            : typeof inferred[k] === 'number' || ((d === null || d === '') && inferred[k] !== null)
              ? inferred[k]!
              : d,
        );
        if (refined.some((d, k) => d !== known[k])) o.shape = refined;
      }
      if (o.dtype === undefined && dtypes[i] !== undefined) o.dtype = dtypes[i];
      const v = outValues[i];
      if (v !== undefined && v.length <= MAX_VALUE) values.set(o, v.map(normalizeDim));
    }
  }
}
