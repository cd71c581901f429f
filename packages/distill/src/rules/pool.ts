import * as tf from '@tensorflow/tfjs-core';
import { McError, attrOf } from '@mc/ir';
import { nhwc, plain, type Val } from '../graph/layout.js';
import { resolvePads } from './conv.js';
import type { Rule, RuleContext } from './types.js';

function poolSetup(ctx: RuleContext) {
  const x = ctx.input(0);
  const oneD = x.t.rank === 3;
  if (x.t.rank !== 4 && !oneD) {
    throw new McError(
      'E_UNSUPPORTED',
      `${ctx.node.opType} '${ctx.node.name}' has a ${x.t.rank}-D input; mc trains 1-D and 2-D pooling only`,
      { context: { node: ctx.node.name, opType: ctx.node.opType } },
    );
  }
  // 1-D pooling runs as 2-D over [N, 1, L, C].
  const xs = oneD ? (tf.expandDims(tf.transpose(x.t, [0, 2, 1]), 1) as tf.Tensor4D) : nhwc(x);
  const k0 = ctx.node.attrInts('kernel_shape') ?? [];
  if (k0.length !== x.t.rank - 2)
    throw new McError('E_FORMAT', `${ctx.node.opType} '${ctx.node.name}' needs a ${x.t.rank - 2}-D kernel_shape`, {
      context: { node: ctx.node.name },
    });
  const dil = attrOf(ctx.node, 'dilations') ?? [];
  if (dil.some((d) => d !== 1))
    throw new McError('E_UNSUPPORTED', `${ctx.node.opType} '${ctx.node.name}' has dilations; not supported in training`, {
      context: { node: ctx.node.name },
    });
  const [, H, W] = xs.shape;
  const kernel = oneD ? [1, k0[0]!] : k0;
  const r = oneD ? resolvePads(ctx, [W], k0, [1]) : resolvePads(ctx, [H, W], kernel, [1, 1]);
  const pads: [number, number][] = oneD ? [[0, 0], r.pads[0]!] : r.pads;
  const strides = oneD ? [1, r.strides[0]!] : r.strides;
  if (attrOf(ctx.node, 'ceil_mode') === 1) {
    // ceil_mode: pad the end so the last partial window exists (spec: output = ceil((in + pads - k) / s) + 1).
    [H, W].forEach((inD, i) => {
      const p = pads[i]!;
      const span = inD + p[0] + p[1] - kernel[i]!;
      const rem = span % strides[i]!;
      if (rem !== 0) p[1] += strides[i]! - rem;
    });
  }
  const finish = (y: tf.Tensor4D): Val => (oneD ? plain(tf.transpose(tf.squeeze(y, [1]), [0, 2, 1])) : { t: y, nhwc: true });
  return { xs, kernel: kernel as [number, number], pads, strides: strides as [number, number], finish };
}

const padded = (t: tf.Tensor4D, pads: [number, number][], value: number): tf.Tensor4D =>
  pads.every(([a, b]) => a === 0 && b === 0) ? t : tf.pad(t, [[0, 0], pads[0]!, pads[1]!, [0, 0]], value);

/** MaxPool: pad with -∞, then a valid pool (so any explicit pads work). */
export const maxPoolRule: Rule = {
  trainable: [],
  run(ctx) {
    if (ctx.node.outputs.length > 1 && ctx.node.outputs[1]!.uses().length > 0) {
      throw new McError('E_UNSUPPORTED', `MaxPool '${ctx.node.name}' Indices output is used; not supported in training`, {
        context: { node: ctx.node.name },
      });
    }
    const { xs, kernel, pads, strides, finish } = poolSetup(ctx);
    const [n, H, W, C] = xs.shape;
    const [kh, kw] = kernel;
    if (kh === strides[0] && kw === strides[1] && pads.every(([a, b]) => a === 0 && b === 0) && H % kh === 0 && W % kw === 0) {
      // Non-overlapping windows as reshape + max: its gradient (an equality mask) is ~10× faster on wasm than
      // MaxPoolGrad. Ties share the gradient, which after ReLU only happens at zeros, where ReLU's gradient is 0.
      const r = tf.reshape(xs, [n, H / kh, kh, W / kw, kw, C]);
      return [finish(tf.max(r, [2, 4]))];
    }
    return [finish(tf.maxPool(padded(xs, pads, -Infinity), kernel, strides, 'valid'))];
  },
};

/** AveragePool: zero pads; with count_include_pad = 0 divide by the share of real elements in each window. */
export const avgPoolRule: Rule = {
  trainable: [],
  run(ctx) {
    const { xs, kernel, pads, strides, finish } = poolSetup(ctx);
    const y = tf.avgPool(padded(xs, pads, 0), kernel, strides, 'valid');
    const anyPad = pads.some(([a, b]) => a > 0 || b > 0);
    if (!anyPad || attrOf(ctx.node, 'count_include_pad') === 1) return [finish(y)];
    const [, H, W] = xs.shape;
    const share = tf.avgPool(padded(tf.ones([1, H, W, 1]), pads, 0), kernel, strides, 'valid');
    return [finish(tf.div(y, share) as tf.Tensor4D)];
  },
};

/** GlobalAveragePool / GlobalMaxPool over H, W, kept as [N, 1, 1, C] NHWC. */
export const globalPoolRule = (kind: 'avg' | 'max'): Rule => ({
  trainable: [],
  run(ctx) {
    const x = ctx.input(0);
    if (x.t.rank !== 4) {
      const axes = Array.from({ length: x.t.rank - 2 }, (_, i) => i + 2);
      const v = x.t; // only 4-D values are ever NHWC
      return [{ t: kind === 'avg' ? tf.mean(v, axes, true) : tf.max(v, axes, true), nhwc: false } satisfies Val];
    }
    const xs = nhwc(x);
    return [{ t: kind === 'avg' ? tf.mean(xs, [1, 2], true) : tf.max(xs, [1, 2], true), nhwc: true }];
  },
});
