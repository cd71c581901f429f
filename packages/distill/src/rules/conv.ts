import * as tf from '@tensorflow/tfjs-core';
import { McError, attrOf, resolvePads as resolveOnnxPads } from '@mc/ir';
import { nhwc, plain, type Val } from '../graph/layout.js';
import type { Rule, RuleContext } from './types.js';

/**
 * Explicit [begin, end] pads per spatial axis, resolving `auto_pad` the way the spec does
 * (https://onnx.ai/onnx/operators/onnx__Conv.html: SAME_UPPER puts the odd pad at the end).
 * @internal
 */
export function resolvePads(
  ctx: RuleContext,
  inDims: readonly number[],
  kernel: readonly number[],
  dilations?: readonly number[],
): { pads: [number, number][]; strides: number[]; dilations: number[] } {
  const a = resolveOnnxPads(ctx.node, inDims, kernel, dilations);
  const pads = kernel.map((_, i): [number, number] => [a.pads[i]!, a.pads[i + kernel.length]!]);
  return { pads, strides: a.strides, dilations: a.dilations };
}

/** ONNX Conv (2-D, any group) as tfjs NHWC conv2d; weights stay OIHW so training writes them back unchanged. */
export const convRule: Rule = {
  trainable: [1, 2],
  run(ctx) {
    const x = ctx.input(0);
    let w = ctx.input(1).t;
    const oneD = x.t.rank === 3 && w.rank === 3;
    if (!oneD && (x.t.rank !== 4 || w.rank !== 4)) {
      throw new McError('E_UNSUPPORTED', `Conv '${ctx.node.name}' is ${x.t.rank - 2}-D; mc trains 1-D and 2-D convolutions only`, {
        context: { node: ctx.node.name, opType: 'Conv' },
      });
    }
    // 1-D convs run as 2-D with a height-1 kernel: [N, C, L] → [N, 1, L, C] NHWC.
    const xs = oneD ? (tf.expandDims(tf.transpose(x.t, [0, 2, 1]), 1) as tf.Tensor4D) : nhwc(x);
    if (oneD) w = tf.expandDims(w, 2);
    const [, H, W] = xs.shape;
    const [, , kh, kw] = w.shape as [number, number, number, number];
    const group = attrOf(ctx.node, 'group');
    const r = oneD ? resolvePads(ctx, [W], [kw]) : resolvePads(ctx, [H, W], [kh, kw]);
    const pads: [number, number][] = oneD ? [[0, 0], r.pads[0]!] : r.pads;
    const strides = oneD ? [1, r.strides[0]!] : r.strides;
    const dilations = oneD ? [1, r.dilations[0]!] : r.dilations;
    const explicit: tf.backend_util.ExplicitPadding = [[0, 0], pads[0]!, pads[1]!, [0, 0]];
    const hwio = tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D; // OIHW → HWIO
    const conv = (a: tf.Tensor4D, f: tf.Tensor4D) =>
      tf.conv2d(a, f, strides as [number, number], explicit, 'NHWC', dilations as [number, number]);
    let y: tf.Tensor4D;
    if (group === 1) {
      y = conv(xs, hwio);
    } else {
      // Grouped/depthwise conv as per-group conv2d: wasm has no depthwise gradient kernels.
      const xg = tf.split(xs, group, 3);
      const wg = tf.split(hwio, group, 3);
      y = tf.concat(
        xg.map((xi, i) => conv(xi as tf.Tensor4D, wg[i] as tf.Tensor4D)),
        3,
      ) as tf.Tensor4D;
    }
    const b = ctx.optional(2);
    const yb = b === undefined ? y : tf.add(y, b.t);
    if (oneD) return [plain(tf.transpose(tf.squeeze(yb, [1]), [0, 2, 1]))];
    return [{ t: yb, nhwc: true } satisfies Val];
  },
};
