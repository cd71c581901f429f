import * as tf from '@tensorflow/tfjs-core';
import { McError, toNumbers, attrOf, reshapeTarget, transposePerm } from '@mc/ir';
import { NCHW_TO_NHWC_AXIS, nchw, nhwc, plain, type Val } from '../graph/layout.js';
import type { Rule } from './types.js';

const norm = (axis: number, rank: number) => ((axis % rank) + rank) % rank;

/** Flatten to 2-D at `axis` (default 1), in NCHW order as ONNX defines it. */
const flattenRule: Rule = {
  trainable: [],
  run(ctx) {
    const t = nchw(ctx.input(0));
    const axis = norm(attrOf(ctx.node, 'axis'), t.rank + 1);
    const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    return [plain(tf.reshape(t, [outer, t.size / Math.max(outer, 1)]))];
  },
};

/** Reshape with a constant shape (0 copies the input dim unless allowzero, -1 infers). */
const reshapeRule: Rule = {
  trainable: [],
  run(ctx) {
    const t = nchw(ctx.input(0));
    const s = ctx.constant(1);
    // A computed shape (Shape → Gather → Concat, as converters emit for Flatten) is small: read it back.
    const raw = s !== undefined ? toNumbers(s) : Array.from(ctx.input(1).t.dataSync());
    const shape = reshapeTarget(t.shape, raw, attrOf(ctx.node, 'allowzero') === 1) as number[];
    return [plain(tf.reshape(t, shape))];
  },
};

/** Transpose (default perm reverses the axes). A 4-D NHWC value composes the permutation instead of moving twice. */
const transposeRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    const r = x.t.rank;
    const perm = transposePerm(ctx.node, r);
    if (x.nhwc) {
      // out[i] = nchw[perm[i]] = nhwc[NCHW_TO_NHWC_AXIS[perm[i]]]
      const composed = perm.map((p) => NCHW_TO_NHWC_AXIS[p]!);
      return [plain(tf.transpose(x.t, composed))];
    }
    return [plain(tf.transpose(x.t, perm))];
  },
};

/** Concat; stays NHWC when every input is a 4-D activation. */
const concatRule: Rule = {
  trainable: [],
  run(ctx) {
    const ins: Val[] = ctx.node.inputs.map((_, i) => ctx.input(i));
    const r = ins[0]!.t.rank;
    const axis = norm(attrOf(ctx.node, 'axis'), r);
    if (r === 4 && ins.some((v) => v.nhwc)) return [{ t: tf.concat(ins.map(nhwc), NCHW_TO_NHWC_AXIS[axis]!), nhwc: true }];
    return [plain(tf.concat(ins.map(nchw), axis))];
  },
};

/** Constant: its value (float as float32, integers as int32). */
const constantRule: Rule = {
  trainable: [],
  run(ctx) {
    const a = ctx.node.attr('value');
    if (a?.type !== 'TENSOR')
      throw new McError('E_UNSUPPORTED', `Constant '${ctx.node.name}' without a 'value' tensor is not supported in training`, {
        context: { node: ctx.node.name },
      });
    const c = a.value;
    const isFloat = c.dtype === 'float32' || c.dtype === 'float16' || c.dtype === 'float64' || c.dtype === 'bfloat16';
    return [plain(tf.tensor(toNumbers(c), [...c.dims], isFloat ? 'float32' : 'int32'))];
  },
};

/** Squeeze/Unsqueeze with constant axes (input after opset 13, attribute before). */
const squeezeLike = (un: boolean): Rule => ({
  trainable: [],
  run(ctx) {
    const t = nchw(ctx.input(0));
    const c = ctx.constant(1);
    const axes = c !== undefined ? toNumbers(c) : ctx.node.attrInts('axes');
    if (un) {
      if (axes === undefined)
        throw new McError('E_FORMAT', `Unsqueeze '${ctx.node.name}' has no axes`, { context: { node: ctx.node.name } });
      const outRank = t.rank + axes.length;
      const ax = new Set(axes.map((a) => norm(a, outRank)));
      const shape: number[] = [];
      let k = 0;
      for (let i = 0; i < outRank; i++) shape.push(ax.has(i) ? 1 : t.shape[k++]!);
      return [plain(tf.reshape(t, shape))];
    }
    return [
      plain(
        tf.squeeze(
          t,
          axes?.map((a) => norm(a, t.rank)),
        ),
      ),
    ];
  },
});

/** Shape of the NCHW value (int32), with opset-15 start/end. */
const shapeRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    const dims = x.nhwc ? [x.t.shape[0]!, x.t.shape[3]!, x.t.shape[1]!, x.t.shape[2]!] : x.t.shape;
    const r = dims.length;
    const start = norm(attrOf(ctx.node, 'start'), r + 1);
    const endAttr = attrOf(ctx.node, 'end');
    const end = endAttr === undefined ? r : Math.min(r, endAttr < 0 ? endAttr + r : endAttr);
    return [plain(tf.tensor1d(dims.slice(start, end), 'int32'))];
  },
};

/** Gather along `axis` (indices constant or computed; int64 read as int32). */
const gatherRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = nchw(ctx.input(0));
    const c = ctx.constant(1);
    const idx = c !== undefined ? tf.tensor(toNumbers(c), [...c.dims], 'int32') : tf.cast(ctx.input(1).t, 'int32');
    const axis = norm(attrOf(ctx.node, 'axis'), x.rank);
    const fixed = tf.where(tf.less(idx, 0), tf.add(idx, x.shape[axis]!), idx);
    return [plain(tf.gather(x, fixed, axis))];
  },
};

/** Cast between float and integer tensors (tfjs holds int64 as int32). */
const castRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    const to = ctx.node.attrInt('to', 1);
    const dtype = to === 1 || to === 10 || to === 11 || to === 16 ? 'float32' : to === 9 ? 'bool' : 'int32';
    return [{ t: tf.cast(x.t, dtype), nhwc: x.nhwc }];
  },
};

/** Slice with positive steps (starts/ends/axes/steps as inputs from opset 10, attributes before). */
const sliceRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = nchw(ctx.input(0));
    const read = (i: number, attr: string): number[] | undefined => {
      if (ctx.opset < 10) return ctx.node.attrInts(attr);
      const c = ctx.constant(i);
      if (c !== undefined) return toNumbers(c);
      const v = ctx.optional(i);
      return v === undefined ? undefined : Array.from(v.t.dataSync());
    };
    const starts = read(1, 'starts') ?? [];
    const ends = read(2, 'ends') ?? [];
    const axes = (read(3, 'axes') ?? starts.map((_, i) => i)).map((a) => norm(a, x.rank));
    const steps = read(4, 'steps') ?? starts.map(() => 1);
    const begin = x.shape.map(() => 0);
    const end = [...x.shape];
    const stride = x.shape.map(() => 1);
    axes.forEach((a, i) => {
      const dim = x.shape[a]!;
      const st = steps[i]!;
      if (st <= 0)
        throw new McError('E_UNSUPPORTED', `Slice '${ctx.node.name}' has step ${st}; mc trains Slice with positive steps only`, {
          context: { node: ctx.node.name },
        });
      const fix = (v: number) => Math.min(dim, Math.max(0, v < 0 ? v + dim : v));
      begin[a] = fix(starts[i]!);
      end[a] = Math.max(begin[a]!, fix(ends[i]!));
      stride[a] = st;
    });
    return [plain(tf.stridedSlice(x, begin, end, stride))];
  },
};

/** @internal */
export const shapeRules: [string, Rule][] = [
  ['Flatten', flattenRule],
  ['Reshape', reshapeRule],
  ['Transpose', transposeRule],
  ['Concat', concatRule],
  ['Constant', constantRule],
  ['Squeeze', squeezeLike(false)],
  ['Unsqueeze', squeezeLike(true)],
  ['Shape', shapeRule],
  ['Gather', gatherRule],
  ['Cast', castRule],
  ['Slice', sliceRule],
];
