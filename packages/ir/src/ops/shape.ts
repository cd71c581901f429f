import type { Node } from '../node.js';
import { dimAdd, dimDiv, dimProduct, dimSub } from '../symbolic.js';
import type { Dim, Shape } from '../types.js';
import { defineOp, int, ints, type OpInfo, required, type ShapeContext } from './define.js';

// Layout ops. Dims may be symbolic ('batch', 'batch*sequence'); see ../symbolic.ts. Where a rule reads a shape-like
// input (Reshape's `shape`, Slice's `starts`) it reads `ctx.values`, which carries shape arithmetic computed from
// `Shape` outputs, so torch's `Shape → Gather → Unsqueeze → Concat → Reshape` chains keep their symbols.

/** Axis in [0, rank). @internal */
export const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

/** Ends at or past this are "to the end of the axis" (torch writes INT64_MAX, others INT32_MAX). */
const HUGE = 2 ** 31 - 1;

/** The input value unchanged, for ops that only move elements of a small shape tensor (Reshape, Squeeze, …). @internal */
export const sameValue = (ctx: ShapeContext): (Dim[] | undefined)[] => [ctx.values[0]];

/**
 * Reshape's output dims from the input's and the target (https://onnx.ai/onnx/operators/onnx__Reshape.html): a 0 copies
 * the input dim at the same index (unless `allowzero`, where it is a real 0), one -1 is inferred from the element
 * count. Dims may be symbolic; an unknown input or a zero-sized rest leaves the inferred dim unknown (null).
 *
 * @example
 * ```ts
 * reshapeTarget([2, 3, 4], [0, -1], false); // [2, 12]
 * ```
 */
export function reshapeTarget(input: Shape | undefined, target: readonly Dim[], allowZero: boolean): Dim[] {
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (input?.[i] ?? null) : d));
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const total = input === undefined ? null : dimProduct(input);
    const rest = dimProduct(out.filter((_, i) => i !== neg));
    out[neg] = total === null || rest === null || rest === 0 ? null : dimDiv(total, rest);
  }
  return out;
}

/**
 * {@link reshapeTarget} for known sizes: the output dims, or undefined when they do not resolve to sizes holding
 * exactly the input's elements (a -1 that does not divide, a count mismatch).
 *
 * @example
 * ```ts
 * reshapeDims([16, 4, 4, 10], [256, -1]); // [256, 10]
 * reshapeDims([6], [4, -1]);              // undefined
 * ```
 */
export function reshapeDims(input: readonly number[], target: readonly number[], allowZero = false): number[] | undefined {
  const out = reshapeTarget(input, target, allowZero);
  if (out.some((d) => typeof d !== 'number' || d < 0)) return undefined;
  const dims = out as number[];
  return dims.reduce((a, b) => a * b, 1) === input.reduce((a, b) => a * b, 1) ? dims : undefined;
}

function reshapeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const target = ctx.values[1];
  if (target === undefined) {
    // The target's length still gives the rank (https://onnx.ai/onnx/operators/onnx__Reshape.html).
    const s = ctx.shapes[1];
    return [s?.length === 1 && typeof s[0] === 'number' ? Array<Dim>(s[0]).fill(null) : undefined];
  }
  return [reshapeTarget(ctx.shapes[0], target, ctx.node.attrInt('allowzero', 0) === 1)];
}

function flattenShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const axis = normAxis(ctx.node.attrInt('axis', 1), x.length);
  return [[dimProduct(x.slice(0, axis)), dimProduct(x.slice(axis))]];
}

/**
 * Transpose's permutation for an input of rank `rank`: the `perm` attribute, by default the axes reversed
 * (https://onnx.ai/onnx/operators/onnx__Transpose.html).
 *
 * @example
 * ```ts
 * transposePerm(transpose, 3); // [2, 1, 0] without a perm attribute
 * ```
 */
export function transposePerm(node: Node, rank: number): number[] {
  return node.attrInts('perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

function transposeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const perm = transposePerm(ctx.node, x.length);
  return [perm.map((p) => x[p] ?? null)];
}

function concatShape(ctx: ShapeContext): (Shape | undefined)[] {
  if (ctx.shapes.some((s) => s === undefined) || ctx.shapes.length === 0) return [undefined];
  const shapes = ctx.shapes as Shape[];
  const first = shapes[0]!;
  const axis = normAxis(ctx.node.attrInt('axis', 0), first.length);
  // Other axes agree by the spec: a size any input knows is the size of all.
  const out: Dim[] = first.map((d, i) => shapes.map((s) => s[i] ?? null).find((k) => typeof k === 'number') ?? d);
  out[axis] = shapes.reduce<Dim>((n, s) => dimAdd(n, s[axis] ?? null), 0);
  return [out];
}

function concatValue(ctx: ShapeContext): (Dim[] | undefined)[] {
  if (ctx.values.length === 0 || ctx.values.some((v) => v === undefined) || ctx.shapes.some((s) => s === undefined || s.length !== 1))
    return [undefined];
  return [(ctx.values as Dim[][]).flat()];
}

/**
 * Split sizes from the `split` input (opset 13+) or attribute, else equal parts (the last one smaller when
 * `num_outputs` does not divide the axis, opset 18: https://onnx.ai/onnx/operators/onnx__Split.html).
 */
function splitShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const k = ctx.node.outputs.length;
  if (x === undefined) return Array(k).fill(undefined);
  const axis = normAxis(ctx.node.attrInt('axis', 0), x.length);
  const d = x[axis] ?? null;
  let sizes: Dim[] | undefined = ctx.values[1] ?? ctx.node.attrInts('split');
  if (sizes === undefined && typeof d === 'number') {
    const each = Math.ceil(d / k);
    sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
  } else if (sizes === undefined) {
    sizes = Array<Dim>(k).fill(dimDiv(d, k)); // a symbolic axis is taken to divide evenly
  }
  if (sizes.length !== k) return Array(k).fill(undefined);
  return sizes.map((n) => x.map((dim, j) => (j === axis ? n : dim)));
}

function squeezeAxes(ctx: ShapeContext): number[] | undefined {
  return ctx.consts[1] ?? ctx.node.attrInts('axes');
}

function squeezeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const axes = squeezeAxes(ctx);
  // Without axes every 1 goes; a symbolic dim is taken not to be 1 (a batch of 1 would drop at run time).
  if (axes === undefined) return [x.filter((d) => d !== 1)];
  const drop = new Set(axes.map((a) => normAxis(a, x.length)));
  return [x.filter((_, i) => !drop.has(i))];
}

function unsqueezeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const axes = squeezeAxes(ctx);
  if (x === undefined || axes === undefined) return [undefined];
  const rank = x.length + axes.length;
  const add = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(add.has(i) ? 1 : (x[j++] ?? null));
  return [out];
}

/** starts/ends/axes/steps from inputs (opset 10+) or attributes (opset 1–9). */
function sliceArgs(ctx: ShapeContext, rank: number): { starts: Dim[]; ends: Dim[]; axes: number[]; steps: number[] } | undefined {
  const fromAttrs = ctx.node.inputs.length === 1;
  const starts = fromAttrs ? ctx.node.attrInts('starts') : ctx.values[1];
  const ends = fromAttrs ? ctx.node.attrInts('ends') : ctx.values[2];
  if (starts === undefined || ends === undefined || starts.length !== ends.length) return undefined;
  const axes =
    (fromAttrs ? ctx.node.attrInts('axes') : ctx.node.inputs[3] === undefined ? undefined : ctx.consts[3]) ?? starts.map((_, i) => i);
  const steps = (fromAttrs || ctx.node.inputs[4] === undefined ? undefined : ctx.consts[4]) ?? starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length) return undefined;
  return { starts, ends, axes: axes.map((a) => normAxis(a, rank)), steps };
}

/**
 * Length of one sliced axis (https://onnx.ai/onnx/operators/onnx__Slice.html): clamp start and end into the axis, then
 * ceil((end - start) / step). With symbols, the common forms are kept: `[0:end]` with a symbolic end is `end` (taken to
 * lie inside the axis), `[s:]` is `d - s`, `[0:-k]` is `d - k`; other symbolic forms are unknown.
 * @internal
 */
export function sliceDim(d: Dim, start: Dim, end: Dim, step: number): Dim {
  if (typeof d === 'number' && typeof start === 'number' && typeof end === 'number') {
    const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const s = step > 0 ? clamp(start, 0, d) : clamp(start, -1, d - 1);
    const e = step > 0 ? clamp(end, 0, d) : clamp(end, -1, d - 1);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  if (step !== 1 || typeof start !== 'number' || start < 0) return null;
  if (typeof end === 'number') {
    if (end >= HUGE) return dimSub(d, start);
    if (end < 0 && start === 0) return dimSub(d, -end);
    return typeof d === 'number' ? null : end >= 0 ? end - start : null;
  }
  return end === null ? null : dimSub(end, start);
}

function sliceShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  if (x === undefined) return [undefined];
  const args = sliceArgs(ctx, x.length);
  if (args === undefined) return [x.map(() => null)];
  const out: Dim[] = [...x];
  args.axes.forEach((a, i) => {
    out[a] = sliceDim(x[a] ?? null, args.starts[i]!, args.ends[i]!, args.steps[i]!);
  });
  return [out];
}

function sliceValue(ctx: ShapeContext): (Dim[] | undefined)[] {
  const v = ctx.values[0];
  const args = sliceArgs(ctx, 1);
  if (v === undefined || args === undefined || args.axes.length !== 1) return [undefined];
  const [s, e, step] = [args.starts[0], args.ends[0], args.steps[0]!];
  if (typeof s !== 'number' || typeof e !== 'number' || step !== 1) return [undefined];
  const n = v.length;
  const from = Math.min(Math.max(s < 0 ? s + n : s, 0), n);
  const to = Math.min(Math.max(e < 0 ? e + n : e, 0), n);
  return [v.slice(from, to)];
}

/** Gather along `axis`: data.shape[:axis] + indices.shape + data.shape[axis+1:] (https://onnx.ai/onnx/operators/onnx__Gather.html). */
function gatherShape(ctx: ShapeContext): (Shape | undefined)[] {
  const d = ctx.shapes[0];
  const i = ctx.shapes[1];
  if (d === undefined || i === undefined) return [undefined];
  const axis = normAxis(ctx.node.attrInt('axis', 0), d.length);
  return [[...d.slice(0, axis), ...i, ...d.slice(axis + 1)]];
}

function gatherValue(ctx: ShapeContext): (Dim[] | undefined)[] {
  const data = ctx.values[0];
  const idx = ctx.consts[1];
  if (data === undefined || idx === undefined || ctx.shapes[0]?.length !== 1) return [undefined];
  const out = idx.map((i) => data[i < 0 ? i + data.length : i]);
  return [out.some((d) => d === undefined) ? undefined : (out as Dim[])];
}

/** Shape-moving ops. Concat couples channel offsets when it concatenates along axis 1. */
export const shapeOps: OpInfo[] = [
  defineOp({ opType: 'Reshape', inputs: ['data', 'shape'], attrs: { allowzero: int(0) }, inferShape: reshapeShape, inferValue: sameValue }),
  defineOp({ opType: 'Flatten', inputs: ['input'], attrs: { axis: int(1) }, inferShape: flattenShape }),
  defineOp({ opType: 'Transpose', inputs: ['data'], attrs: { perm: ints() }, inferShape: transposeShape }),
  defineOp({
    opType: 'Concat',
    inputs: ['...inputs'],
    attrs: { axis: required('INT') },
    channels: 'concat',
    inferShape: concatShape,
    inferValue: concatValue,
  }),
  // `split` is an attribute before opset 13 and an input after; `num_outputs` arrives in opset 18.
  defineOp({
    opType: 'Split',
    inputs: ['input', 'split?'],
    attrs: { axis: int(0), split: ints(), num_outputs: int() },
    inferShape: splitShape,
  }),
  defineOp({ opType: 'Squeeze', inputs: ['data', 'axes?'], attrs: { axes: ints() }, inferShape: squeezeShape, inferValue: sameValue }),
  defineOp({ opType: 'Unsqueeze', inputs: ['data', 'axes?'], attrs: { axes: ints() }, inferShape: unsqueezeShape, inferValue: sameValue }),
  // Before opset 10, starts/ends/axes are attributes.
  defineOp({
    opType: 'Slice',
    inputs: ['data', 'starts', 'ends', 'axes?', 'steps?'],
    attrs: { starts: ints(), ends: ints(), axes: ints() },
    inferShape: sliceShape,
    inferValue: sliceValue,
  }),
  defineOp({
    opType: 'Gather',
    inputs: ['data', 'indices'],
    attrs: { axis: int(0) },
    inferShape: gatherShape,
    inferDType: (c) => [c.dtypes[0]],
    inferValue: gatherValue,
  }),
  defineOp({ opType: 'Constant', inputs: [] }),
];
