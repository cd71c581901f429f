import type { Dim, Shape } from '../types.js';
import { defineOp, type OpInfo, type ShapeContext } from './define.js';

const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

function prod(dims: readonly Dim[]): Dim {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

function reshapeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const target = ctx.consts[1];
  if (target === undefined) return [undefined];
  const allowZero = ctx.node.attrInt('allowzero', 0) === 1;
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (x?.[i] ?? null) : d === -1 ? -1 : d));
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const total = x === undefined ? null : prod(x);
    const rest = prod(out.filter((_, i) => i !== neg));
    out[neg] = typeof total === 'number' && typeof rest === 'number' && rest !== 0 ? total / rest : null;
  }
  return [out];
}

function flattenShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const axis = norm(ctx.node.attrInt('axis', 1), x.length);
  return [[prod(x.slice(0, axis)), prod(x.slice(axis))]];
}

function transposeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const perm = ctx.node.attrInts('perm', x.map((_, i) => x.length - 1 - i));
  return [perm.map((p) => x[p] ?? null)];
}

function concatShape(ctx: ShapeContext): (Shape | undefined)[] {
  if (ctx.shapes.some((s) => s === undefined) || ctx.shapes.length === 0) return [undefined];
  const shapes = ctx.shapes as Shape[];
  const first = shapes[0]!;
  const axis = norm(ctx.node.attrInt('axis', 0), first.length);
  const out: Dim[] = [...first];
  out[axis] = prod(shapes.map((s) => s[axis] ?? null)) === null ? null : shapes.reduce((n, s) => n + (s[axis] as number), 0);
  return [out];
}

/**
 * Split sizes from the `split` input (opset 13+) or attribute, else equal parts (the last one smaller when
 * `num_outputs` does not divide the axis, opset 18: https://onnx.ai/onnx/operators/onnx__Split.html).
 */
function splitShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const k = ctx.node.outputs.length;
  if (x === undefined) return Array(k).fill(undefined);
  const axis = norm(ctx.node.attrInt('axis', 0), x.length);
  const d = x[axis];
  let sizes = ctx.consts[1] ?? ctx.node.attrInts('split');
  if (sizes === undefined && typeof d === 'number') {
    const each = Math.ceil(d / k);
    sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
  }
  if (sizes === undefined || sizes.length !== k) return Array(k).fill(undefined);
  return sizes.map((n) => x.map((dim, j) => (j === axis ? n : dim)));
}

function squeezeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const axes = ctx.consts[1] ?? ctx.node.attrInts('axes');
  if (axes === undefined) return [x.filter((d) => d !== 1)];
  const drop = new Set(axes.map((a) => norm(a, x.length)));
  return [x.filter((_, i) => !drop.has(i))];
}

function unsqueezeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const axes = ctx.consts[1] ?? ctx.node.attrInts('axes');
  if (x === undefined || axes === undefined) return [undefined];
  const rank = x.length + axes.length;
  const add = new Set(axes.map((a) => norm(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(add.has(i) ? 1 : (x[j++] ?? null));
  return [out];
}

/** Shape-moving ops. Concat couples channel offsets when it concatenates along axis 1. */
export const shapeOps: OpInfo[] = [
  defineOp({ opType: 'Reshape', inputs: ['data', 'shape'], inferShape: reshapeShape }),
  defineOp({ opType: 'Flatten', inputs: ['input'], inferShape: flattenShape }),
  defineOp({ opType: 'Transpose', inputs: ['data'], inferShape: transposeShape }),
  defineOp({ opType: 'Concat', inputs: ['...inputs'], channels: 'concat', inferShape: concatShape }),
  defineOp({ opType: 'Split', inputs: ['input', 'split?'], inferShape: splitShape }),
  defineOp({ opType: 'Squeeze', inputs: ['data', 'axes?'], inferShape: squeezeShape }),
  defineOp({ opType: 'Unsqueeze', inputs: ['data', 'axes?'], inferShape: unsqueezeShape }),
  defineOp({ opType: 'Shape', inputs: ['data'], inferShape: (c) => [c.shapes[0] === undefined ? undefined : [c.shapes[0].length]], inferDType: () => ['int64'] }),
  defineOp({ opType: 'Pad', inputs: ['data', 'pads?', 'constant_value?', 'axes?'] }),
  defineOp({ opType: 'Slice', inputs: ['data', 'starts', 'ends', 'axes?', 'steps?'] }),
  defineOp({
    opType: 'Gather',
    inputs: ['data', 'indices'],
    // out = data.shape[:axis] + indices.shape + data.shape[axis+1:] (https://onnx.ai/onnx/operators/onnx__Gather.html)
    inferShape: (c) => {
      const d = c.shapes[0];
      const i = c.shapes[1];
      if (d === undefined || i === undefined) return [undefined];
      const axis = norm(c.node.attrInt('axis', 0), d.length);
      return [[...d.slice(0, axis), ...i, ...d.slice(axis + 1)]];
    },
    inferDType: (c) => [c.dtypes[0]],
  }),
  defineOp({ opType: 'Resize', inputs: ['X', 'roi?', 'scales?', 'sizes?'] }),
  defineOp({ opType: 'Constant', inputs: [] }),
];
