import type { Dim, Shape } from '../types.js';
import { defineOp, int, ints, type OpInfo, type ShapeContext } from './define.js';
import { normAxis } from './shape.js';

/**
 * Reductions (https://onnx.ai/onnx/operators/onnx__ReduceMean.html): `axes` is an attribute before opset 18 (13 for
 * ReduceSum) and an input after; no axes reduces all of them unless `noop_with_empty_axes`; `keepdims` (default 1)
 * leaves reduced axes as 1.
 */
function reduceShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const fromInput = ctx.node.inputs[1] !== undefined;
  const axes = fromInput ? ctx.consts[1] : ctx.node.attrInts('axes');
  if (fromInput && axes === undefined) return [ctx.node.attrInt('keepdims', 1) === 1 ? x.map(() => null) : undefined];
  if ((axes === undefined || axes.length === 0) && ctx.node.attrInt('noop_with_empty_axes', 0) === 1) return [x];
  const drop = new Set((axes === undefined || axes.length === 0 ? x.map((_, i) => i) : axes).map((a) => normAxis(a, x.length)));
  const keep = ctx.node.attrInt('keepdims', 1) === 1;
  return [keep ? x.map((d, i) => (drop.has(i) ? 1 : d)) : x.filter((_, i) => !drop.has(i))];
}

/** ArgMax/ArgMin: one `axis` (default 0), `keepdims` (default 1); int64 indices. */
function argShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const axis = normAxis(ctx.node.attrInt('axis', 0), x.length);
  const keep = ctx.node.attrInt('keepdims', 1) === 1;
  const out: Dim[] = keep ? x.map((d, i) => (i === axis ? 1 : d)) : x.filter((_, i) => i !== axis);
  return [out];
}

/** The ONNX Reduce* ops (axes an attribute before opset 18, ReduceSum before 13). */
export const REDUCE_OPS: readonly string[] = [
  'ReduceMean',
  'ReduceSum',
  'ReduceMax',
  'ReduceMin',
  'ReduceProd',
  'ReduceL1',
  'ReduceL2',
  'ReduceLogSum',
  'ReduceLogSumExp',
  'ReduceSumSquare',
];

/** Reductions over axes. */
export const reduceOps: OpInfo[] = [
  ...REDUCE_OPS.map((opType) =>
    defineOp({
      opType,
      inputs: ['data', 'axes?'],
      attrs: { axes: ints(), keepdims: int(1), noop_with_empty_axes: int(0) },
      inferShape: reduceShape,
    }),
  ),
  ...['ArgMax', 'ArgMin'].map((opType) =>
    defineOp({ opType, inputs: ['data'], attrs: { axis: int(0), keepdims: int(1) }, inferShape: argShape, inferDType: () => ['int64'] }),
  ),
];
