import { dtypeFromOnnx } from '../dtype.js';
import { dimAdd, dimDiv, dimEquals, dimMul, dimSub } from '../symbolic.js';
import type { Dim, Shape } from '../types.js';
import { defineOp, int, type OpInfo, required, type ShapeContext } from './define.js';

/**
 * Numpy-style broadcast of shapes (https://onnx.ai/onnx/repo-docs/Broadcasting.html). A size other than 1 wins over a
 * symbol or an unknown (a valid broadcast makes them equal or 1); equal symbols stay; different symbols are unknown.
 *
 * @example
 * ```ts
 * broadcastShapes([['batch', 1, 64], [4, 64]]); // ['batch', 4, 64]
 * ```
 */
export function broadcastShapes(shapes: (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes as Shape[]) {
      const k = s[s.length - rank + i];
      if (k === undefined || k === 1) continue;
      if (d === 1) d = k;
      else if (typeof d === 'number') continue;
      else if (typeof k === 'number') d = k;
      else if (d === null) d = k;
      else if (k !== null && !dimEquals(d, k)) d = null;
    }
    out.push(d);
  }
  return out;
}

const same = (ctx: ShapeContext): (Shape | undefined)[] => [ctx.shapes[0]];
const broadcast = (ctx: ShapeContext): (Shape | undefined)[] => [broadcastShapes(ctx.shapes)];

/**
 * Elementwise arithmetic on the contents of small integer tensors (shape arithmetic), for inputs of at most one axis
 * (a scalar broadcasts). Undefined when any input's contents are unknown.
 */
function valueOp(f: (...xs: Dim[]) => Dim): (ctx: ShapeContext) => (Dim[] | undefined)[] {
  return (ctx) => {
    const vs = ctx.values;
    if (vs.length === 0 || vs.some((v) => v === undefined) || ctx.shapes.some((s) => s === undefined || s.length > 1)) return [undefined];
    const n = Math.max(...vs.map((v) => v!.length));
    if (vs.some((v) => v!.length !== n && v!.length !== 1)) return [undefined];
    return [Array.from({ length: n }, (_, i) => f(...vs.map((v) => v![v!.length === 1 ? 0 : i]!)))];
  };
}

/** Integer Div truncates; dims are not negative, so truncation is floor division. */
const arith: Record<string, (a: Dim, b: Dim) => Dim> = { Add: dimAdd, Sub: dimSub, Mul: dimMul, Div: dimDiv };

/** A symbolic dim is never negative: compared with a negative number it is unequal; otherwise unknown. */
function equalDims(a: Dim, b: Dim): Dim {
  if (dimEquals(a, b)) return 1;
  if (typeof a === 'number' && typeof b === 'number') return 0;
  if ((typeof a === 'number' && a < 0 && b !== null) || (typeof b === 'number' && b < 0 && a !== null)) return 0;
  return null;
}

const binary = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Mod', 'BitShift'].map((opType) =>
  defineOp({
    opType,
    inputs: opType === 'Max' || opType === 'Min' || opType === 'Sum' || opType === 'Mean' ? ['...data_0'] : ['A', 'B'],
    ...(opType === 'Mod' && { attrs: { fmod: int(0) } }),
    ...(opType === 'BitShift' && { attrs: { direction: required('STRING') } }),
    channels: 'elementwise',
    inferShape: broadcast,
    ...(arith[opType] !== undefined && { inferValue: valueOp(arith[opType]) }),
  }),
);

const compare = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'].map((opType) =>
  defineOp({
    opType,
    inputs: ['A', 'B'],
    inferShape: broadcast,
    inferDType: () => ['bool'],
    ...(opType === 'Equal' && { inferValue: valueOp(equalDims) }),
  }),
);

const unary = [
  'Abs',
  'Neg',
  'Exp',
  'Log',
  'Sqrt',
  'Reciprocal',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Erf',
  'Not',
  'Sin',
  'Cos',
  'Tan',
  'IsNaN',
  'IsInf',
].map((opType) =>
  defineOp({
    opType,
    inputs: ['X'],
    channels: 'passthrough',
    inferShape: same,
    ...((opType === 'IsNaN' || opType === 'IsInf') && { inferDType: () => ['bool'] }),
  }),
);

/** Where picks X where the condition holds, else Y; contents follow when the condition's are known. */
function whereValue(ctx: ShapeContext): (Dim[] | undefined)[] {
  return valueOp((c, x, y) => (c === 1 ? x : c === 0 ? y : null))(ctx);
}

/** Elementwise arithmetic and comparison ops. */
export const elementwiseOps: OpInfo[] = [
  ...binary,
  ...compare,
  ...unary,
  defineOp({
    opType: 'Where',
    inputs: ['condition', 'X', 'Y'],
    inferShape: broadcast,
    inferDType: (c) => [c.dtypes[1]],
    inferValue: whereValue,
  }),
  defineOp({ opType: 'Identity', inputs: ['input'], channels: 'passthrough', inferShape: same, inferValue: (c) => [c.values[0]] }),
  defineOp({
    opType: 'Cast',
    inputs: ['input'],
    attrs: { to: required('INT'), saturate: int(1) },
    channels: 'passthrough',
    inferShape: same,
    // https://onnx.ai/onnx/operators/onnx__Cast.html: the output type is the `to` attribute.
    inferDType: (c) => [dtypeFromOnnx(c.node.attrInt('to', 0))],
    inferValue: (c) => {
      const to = dtypeFromOnnx(c.node.attrInt('to', 0));
      return [to === 'int64' || to === 'int32' || to === 'bool' ? c.values[0] : undefined];
    },
  }),
];
