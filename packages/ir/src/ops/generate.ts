import { dtypeFromOnnx } from '../dtype.js';
import { dimAdd, dimDiv, dimMul, dimProduct, dimSub } from '../symbolic.js';
import type { Dim, Shape } from '../types.js';
import { defineOp, float, int, ints, type OpInfo, type ShapeContext, str } from './define.js';
import { broadcastShapes } from './elementwise.js';
import { normAxis } from './shape.js';

// Ops whose output shape is computed from a shape-like input, and `Shape` itself, whose output value is the shape of
// its input: these make shape arithmetic (`Shape → Gather → Concat → Reshape`) foldable with symbolic dims.

/** Largest tensor whose contents are followed as shape arithmetic. */
const MAX_VALUE = 64;

/** `Shape` (opset 15 adds start/end, https://onnx.ai/onnx/operators/onnx__Shape.html): the input's dims. */
function shapeSlice(ctx: ShapeContext): Dim[] | undefined {
  const x = ctx.shapes[0];
  if (x === undefined) return undefined;
  const r = x.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  return x.slice(clamp(ctx.node.attrInt('start', 0)), clamp(ctx.node.attrInt('end', r)));
}

/** `ConstantOfShape`: shape = input value; dtype from the `value` attribute (float32 zero by default). */
function constantOfShape(ctx: ShapeContext): (Shape | undefined)[] {
  const v = ctx.values[0];
  if (v !== undefined) return [v];
  const s = ctx.shapes[0];
  return [s?.length === 1 && typeof s[0] === 'number' ? Array<Dim>(s[0]).fill(null) : undefined];
}

function constantOfShapeValue(ctx: ShapeContext): (Dim[] | undefined)[] {
  const dims = ctx.values[0];
  const a = ctx.node.attr('value');
  const fill = a?.type === 'TENSOR' && a.value.dtype !== 'float32' && a.value.dtype !== 'string' ? Number(a.value.data[0] ?? 0) : undefined;
  const n = dims === undefined ? null : dimProduct(dims);
  return [fill === undefined || typeof n !== 'number' || n > MAX_VALUE ? undefined : Array<Dim>(n).fill(fill)];
}

/** `Range`: ceil((limit - start) / delta) elements; symbolic when start and delta are numbers. */
function rangeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const [start, limit, delta] = [ctx.values[0]?.[0], ctx.values[1]?.[0], ctx.values[2]?.[0]];
  if (start === undefined || limit === undefined || typeof delta !== 'number' || delta === 0) return [[null]];
  if (typeof start === 'number' && typeof limit === 'number') return [[Math.max(0, Math.ceil((limit - start) / delta))]];
  return [[delta === 1 ? dimSub(limit, start) : dimDiv(dimSub(limit, start), delta)]];
}

function rangeValue(ctx: ShapeContext): (Dim[] | undefined)[] {
  const [start, limit, delta] = [ctx.consts[0]?.[0], ctx.consts[1]?.[0], ctx.consts[2]?.[0]];
  if (start === undefined || limit === undefined || delta === undefined || delta === 0) return [undefined];
  const n = Math.max(0, Math.ceil((limit - start) / delta));
  return [n > MAX_VALUE ? undefined : Array.from({ length: n }, (_, i) => start + i * delta)];
}

/** `Expand`: the input broadcast against the shape input (https://onnx.ai/onnx/operators/onnx__Expand.html). */
function expandShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const target = ctx.values[1];
  if (target !== undefined) return [broadcastShapes([x, target])];
  const s = ctx.shapes[1];
  if (x === undefined || s?.length !== 1 || typeof s[0] !== 'number') return [undefined];
  return [Array<Dim>(Math.max(s[0], x.length)).fill(null)];
}

/** `Tile`: dims times repeats. */
function tileShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const reps = ctx.values[1];
  if (x === undefined) return [undefined];
  return [reps === undefined || reps.length !== x.length ? x.map(() => null) : x.map((d, i) => dimMul(d, reps[i]!))];
}

/** `Pad` (opset 11+: pads input, opset 18 axes; opset 2–10: pads attribute): begin and end pads added per axis. */
function padShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const pads = ctx.node.inputs.length > 1 ? ctx.values[1] : ctx.node.attrInts('pads');
  const axes = ctx.node.inputs[3] === undefined ? x.map((_, i) => i) : ctx.consts[3]?.map((a) => normAxis(a, x.length));
  if (pads === undefined || axes === undefined || pads.length !== 2 * axes.length) return [x.map(() => null)];
  const out = [...x];
  axes.forEach((a, i) => {
    out[a] = dimAdd(dimAdd(x[a] ?? null, pads[i]!), pads[i + axes.length]!);
  });
  return [out];
}

/** `Resize` with a `sizes` input: the sizes (on `axes` when given, opset 18). */
function resizeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const sizes = ctx.values[3];
  if (x === undefined) return [undefined];
  if (sizes === undefined) return [x.map((d, i) => (i < 2 ? d : null))];
  const axes = ctx.node.attrInts('axes')?.map((a) => normAxis(a, x.length)) ?? x.map((_, i) => i);
  const out = [...x];
  axes.forEach((a, i) => {
    out[a] = sizes[i] ?? null;
  });
  return [out];
}

/** Shape-producing and shape-reading ops. */
export const generateOps: OpInfo[] = [
  defineOp({
    opType: 'Shape',
    inputs: ['data'],
    attrs: { start: int(0), end: int() },
    inferShape: (c) => [shapeSlice(c) === undefined ? undefined : [shapeSlice(c)!.length]],
    inferDType: () => ['int64'],
    inferValue: (c) => [shapeSlice(c)],
  }),
  defineOp({
    opType: 'Size',
    inputs: ['data'],
    inferShape: () => [[]],
    inferDType: () => ['int64'],
    inferValue: (c) => [c.shapes[0] === undefined ? undefined : [dimProduct(c.shapes[0])]],
  }),
  defineOp({
    opType: 'ConstantOfShape',
    inputs: ['input'],
    inferShape: constantOfShape,
    inferDType: (c) => {
      const a = c.node.attr('value');
      return [a?.type === 'TENSOR' ? a.value.dtype : 'float32'];
    },
    inferValue: constantOfShapeValue,
  }),
  defineOp({ opType: 'Range', inputs: ['start', 'limit', 'delta'], inferShape: rangeShape, inferValue: rangeValue }),
  defineOp({ opType: 'Expand', inputs: ['input', 'shape'], inferShape: expandShape }),
  defineOp({ opType: 'Tile', inputs: ['input', 'repeats'], inferShape: tileShape }),
  defineOp({ opType: 'Trilu', inputs: ['input', 'k?'], inferShape: (c) => [c.shapes[0]] }),
  // Before opset 11, pads and value are attributes (https://onnx.ai/onnx/operators/onnx__Pad.html).
  defineOp({
    opType: 'Pad',
    inputs: ['data', 'pads?', 'constant_value?', 'axes?'],
    attrs: { mode: str('constant'), pads: ints(), value: float(0) },
    inferShape: padShape,
  }),
  // https://onnx.ai/onnx/operators/onnx__Resize.html (opset 11+ defaults)
  defineOp({
    opType: 'Resize',
    inputs: ['X', 'roi?', 'scales?', 'sizes?'],
    attrs: {
      mode: str('nearest'),
      coordinate_transformation_mode: str('half_pixel'),
      nearest_mode: str('round_prefer_floor'),
      cubic_coeff_a: float(-0.75),
      exclude_outside: int(0),
      extrapolation_value: float(0),
      axes: ints(),
    },
    inferShape: resizeShape,
  }),
  ...['ScatterElements', 'ScatterND', 'CumSum'].map((opType) =>
    defineOp({
      opType,
      inputs: opType === 'CumSum' ? ['x', 'axis'] : ['data', 'indices', 'updates'],
      ...(opType === 'ScatterElements' && { attrs: { axis: int(0) } }),
      inferShape: (c) => [c.shapes[0]],
    }),
  ),
  defineOp({ opType: 'GatherElements', inputs: ['data', 'indices'], attrs: { axis: int(0) }, inferShape: (c) => [c.shapes[1]] }),
  defineOp({
    opType: 'EyeLike',
    inputs: ['input'],
    inferShape: (c) => [c.shapes[0]],
    inferDType: (c) => [dtypeFromOnnx(c.node.attrInt('dtype', 0)) ?? c.dtypes[0]],
  }),
];
