import type { DType } from './dtype.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { ShapeContext } from './ops/define.js';
import { opInfo } from './ops/registry.js';
import { toNumbers } from './tensor.js';
import type { Shape } from './types.js';
import type { Value } from './value.js';

/**
 * Fills `value.shape`/`value.dtype` for outputs of registered ops where they are unknown; keeps what is known.
 * Constant inputs (initializers, Constant nodes) feed shape-like inputs such as Reshape's target.
 *
 * @example
 * ```ts
 * inferShapes(model);
 * model.graph.outputs[0]!.shape; // [1, 10]
 * ```
 */
export function inferShapes(model: Model): void {
  inferGraph(model.graph);
}

function constNumbers(v: Value | undefined): number[] | undefined {
  if (v === undefined) return undefined;
  const t = v.constValue ?? constantNodeValue(v);
  if (t === undefined || t.size > 64 || (t.dtype !== 'int64' && t.dtype !== 'int32')) return undefined;
  return toNumbers(t);
}

function constantNodeValue(v: Value) {
  const p = v.producer();
  if (p?.opType !== 'Constant' || p.domain !== '') return undefined;
  const a = p.attr('value');
  return a?.type === 'TENSOR' ? a.value : undefined;
}

function inferGraph(g: Graph): void {
  // Readers may leave an initializer's type unset (ONNX does not require value_info for it); its tensor knows it.
  for (const v of g.initializers.values()) {
    const t = v.constValue;
    if (t === undefined) continue;
    if (v.shape === undefined) v.shape = t.dims;
    if (v.dtype === undefined) v.dtype = t.dtype;
  }
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
    const ctx: ShapeContext = {
      node,
      shapes: node.inputs.map((v) => v?.shape ?? v?.constValue?.dims), // initializers read without a type still know their dims
      dtypes: node.inputs.map((v) => v?.dtype),
      consts: node.inputs.map((v) => constNumbers(v)),
    };
    let shapes: (Shape | undefined)[] = [];
    let dtypes: (DType | undefined)[] = [];
    try {
      shapes = info.inferShape?.(ctx) ?? [];
      dtypes = info.inferDType?.(ctx) ?? node.outputs.map(() => ctx.dtypes[0]);
    } catch {
      continue; // malformed attributes: leave shapes unknown; the checker of the technique reports them
    }
    if (node.opType === 'Cast') dtypes = [undefined];
    for (const [i, o] of node.outputs.entries()) {
      const inferred = shapes[i];
      if (o.shape === undefined && inferred !== undefined) o.shape = inferred;
      else if (o.shape !== undefined && inferred !== undefined && o.shape.length === inferred.length && o.shape.some((d, k) => typeof d !== 'number' && typeof inferred[k] === 'number')) {
        // A declared symbolic dim ('batch') is refined by an inferred size; known sizes are never overwritten.
        const known = o.shape;
        o.shape = known.map((d, k) => (typeof d === 'number' ? d : (inferred[k] ?? d)));
      }
      if (o.dtype === undefined && dtypes[i] !== undefined) o.dtype = dtypes[i];
    }
  }
}
