import * as tf from '@tensorflow/tfjs-core';
import { McError, toFloat32, attrOf } from '@mc/ir';
import { binary, NCHW_TO_NHWC_AXIS, nchw, plain, type Val } from '../graph/layout.js';
import type { Rule, RuleContext } from './types.js';
import { dropoutMaskData } from '../kernels/dropout.js';

const same = (v: Val, t: tf.Tensor): Val => ({ t, nhwc: v.nhwc });
const unary = (f: (t: tf.Tensor, ctx: RuleContext) => tf.Tensor): Rule => ({
  trainable: [],
  run: (ctx) => {
    const x = ctx.input(0);
    return [same(x, f(x.t, ctx))];
  },
});
const bin = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): Rule => ({
  trainable: [0, 1],
  run: (ctx) => [binary(ctx.input(0), ctx.input(1), f)],
});

function scalarInput(ctx: RuleContext, i: number, attrName: string, dflt: number): number {
  const c = ctx.constant(i);
  if (c !== undefined) return toFloat32(c)[0] ?? dflt;
  if (ctx.node.inputs[i] !== undefined) {
    throw new McError(
      'E_UNSUPPORTED',
      `${ctx.node.opType} '${ctx.node.name}' input ${i} is computed, not a constant; mc trains with constant ${attrName} only`,
      { context: { node: ctx.node.name, opType: ctx.node.opType } },
    );
  }
  return ctx.node.attrFloat(attrName, dflt);
}

/** Softmax/LogSoftmax; opset < 13 flattens to 2-D at `axis` (default 1), opset ≥ 13 works on one axis (default -1). */
const softmaxLike = (log: boolean): Rule => ({
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    const f = (t: tf.Tensor) => (log ? tf.logSoftmax(t) : tf.softmax(t));
    const r = x.t.rank;
    if (ctx.opset < 13) {
      const axis = ((attrOf(ctx.node, 'axis', ctx.opset) % r) + r) % r;
      const t = nchw(x);
      const outer = t.shape.slice(0, axis).reduce((a, b) => a * b, 1);
      return [plain(tf.reshape(f(tf.reshape(t, [outer, -1])), t.shape))];
    }
    const axis = ((attrOf(ctx.node, 'axis', ctx.opset) % r) + r) % r;
    const ax = x.nhwc ? NCHW_TO_NHWC_AXIS[axis]! : axis;
    if (ax === r - 1) return [same(x, f(x.t))];
    const perm = Array.from({ length: r }, (_, i) => i);
    perm[ax] = r - 1;
    perm[r - 1] = ax;
    return [same(x, tf.transpose(f(tf.transpose(x.t, perm)), perm))];
  },
});

/**
 * BatchNormalization: y = γ·(x − μ)/√(σ² + ε) + β. Inference form: μ, σ² are the running statistics. Training with
 * `ctx.batchStats` (Keras `fit`, PyTorch `train()`): μ, σ² of the batch (biased σ², gradients flow through them), and
 * the running statistics move towards them: m ← m·momentum + μ·(1 − momentum), v likewise with the unbiased σ².
 */
const batchNormRule: Rule = {
  trainable: [1, 2],
  run(ctx) {
    const x = ctx.input(0);
    const [scale, bias] = [1, 2].map((i) => ctx.input(i).t) as [tf.Tensor, tf.Tensor];
    const eps = attrOf(ctx.node, 'epsilon');
    if (attrOf(ctx.node, 'training_mode') === 1) {
      throw new McError('E_UNSUPPORTED', `BatchNormalization '${ctx.node.name}' has training_mode=1; export the model in inference form`, {
        context: { node: ctx.node.name },
      });
    }
    const r = x.t.rank;
    const shape = x.nhwc || r <= 2 ? [-1] : [-1, ...Array(r - 2).fill(1)];
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    const bs = ctx.training ? ctx.batchStats : undefined;
    if (bs !== undefined) {
      // Every axis but the channel axis (last in NHWC, 1 in NCHW).
      const axes = Array.from({ length: r }, (_, i) => i).filter((i) => i !== (x.nhwc ? r - 1 : 1));
      const m = tf.mean(x.t, axes);
      const d = tf.sub(x.t, tf.reshape(m, shape));
      mean = m;
      variance = tf.mean(tf.square(d), axes);
      const n = axes.reduce((a, i) => a * x.t.shape[i]!, 1);
      const mom = bs.momentum;
      const upd = (i: number, batch: tf.Tensor) => bs.update(i, tf.add(tf.mul(ctx.input(i).t, mom), tf.mul(batch, 1 - mom)));
      upd(3, m);
      upd(4, tf.mul(variance, n / Math.max(n - 1, 1)));
    } else {
      mean = ctx.input(3).t;
      variance = ctx.input(4).t;
    }
    // Per-channel factors: k = γ/√(σ²+ε), c = β − μ·k; broadcast on the channel axis (last in NHWC, 1 in NCHW).
    const k = tf.mul(scale, tf.rsqrt(tf.add(variance, eps)));
    const c = tf.sub(bias, tf.mul(mean, k));
    return [same(x, tf.add(tf.mul(x.t, tf.reshape(k, shape)), tf.reshape(c, shape)))];
  },
};

/** The seeded inverted-dropout mask ({@link dropoutMaskData}) as a tensor. */
function dropoutMask(shape: number[], ratio: number, seed: number): tf.Tensor {
  return tf.tensor(
    dropoutMaskData(
      shape.reduce((a, b) => a * b, 1),
      ratio,
      seed,
    ),
    shape,
    'float32',
  );
}

/** Dropout: identity at inference; in training drops with the ratio (attribute before opset 12, input after). */
const dropoutRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    const ratio = ctx.opset >= 12 ? scalarInput(ctx, 1, 'ratio', 0.5) : attrOf(ctx.node, 'ratio');
    const y = ctx.training && ratio > 0 ? tf.mul(x.t, dropoutMask(x.t.shape, ratio, ctx.seed)) : x.t;
    const out: Val[] = [same(x, y)];
    if (ctx.node.outputs.length > 1) out.push(same(x, tf.cast(tf.notEqual(y, 0), 'bool')));
    return out;
  },
};

/** Clip with min/max as inputs (opset ≥ 11) or attributes (earlier). */
const clipRule: Rule = {
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    const lo = ctx.opset >= 11 ? scalarInput(ctx, 1, 'min', -3.4028234663852886e38) : attrOf(ctx.node, 'min');
    const hi = ctx.opset >= 11 ? scalarInput(ctx, 2, 'max', 3.4028234663852886e38) : attrOf(ctx.node, 'max');
    return [same(x, tf.clipByValue(x.t, lo, hi))];
  },
};

/** @internal */
export const elementwiseRules: [string, Rule][] = [
  ['Add', bin(tf.add)],
  ['Sub', bin(tf.sub)],
  ['Mul', bin(tf.mul)],
  ['Div', { ...bin(tf.div), trainable: [] }],
  ['Relu', unary((t) => tf.relu(t))],
  ['LeakyRelu', unary((t, ctx) => tf.leakyRelu(t, attrOf(ctx.node, 'alpha')))],
  ['Sigmoid', unary((t) => tf.sigmoid(t))],
  ['Tanh', unary((t) => tf.tanh(t))],
  ['Identity', unary((t) => t)],
  [
    'Elu',
    unary((t, ctx) =>
      attrOf(ctx.node, 'alpha') === 1 ? tf.elu(t) : tf.where(tf.greater(t, 0), t, tf.mul(tf.sub(tf.exp(t), 1), attrOf(ctx.node, 'alpha'))),
    ),
  ],
  [
    'Selu',
    unary((t, ctx) => {
      const alpha = attrOf(ctx.node, 'alpha');
      const gamma = attrOf(ctx.node, 'gamma');
      return tf.mul(tf.where(tf.greater(t, 0), t, tf.mul(tf.sub(tf.exp(t), 1), alpha)), gamma);
    }),
  ],
  ['Softplus', unary((t) => tf.softplus(t))],
  ['Exp', unary((t) => tf.exp(t))],
  ['Sqrt', unary((t) => tf.sqrt(t))],
  ['Neg', unary((t) => tf.neg(t))],
  ['Abs', unary((t) => tf.abs(t))],
  ['Softmax', softmaxLike(false)],
  ['LogSoftmax', softmaxLike(true)],
  ['BatchNormalization', batchNormRule],
  ['Dropout', dropoutRule],
  ['Clip', clipRule],
];
