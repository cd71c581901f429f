import * as tf from '@tensorflow/tfjs-core';
import { McError, attrOf } from '@mc/ir';
import { nchw, plain } from '../graph/layout.js';
import type { Rule } from './types.js';

/** Gemm: Y = alpha·op(A)·op(B) + beta·C (https://onnx.ai/onnx/operators/onnx__Gemm.html). */
export const gemmRule: Rule = {
  trainable: [1, 2],
  run(ctx) {
    const a = nchw(ctx.input(0));
    const b = ctx.input(1).t;
    if (a.rank !== 2 || b.rank !== 2) {
      throw new McError(
        'E_FORMAT',
        `Gemm '${ctx.node.name}' needs 2-D A and B, got ranks ${a.rank} and ${b.rank}; add a Flatten before it`,
        { context: { node: ctx.node.name, opType: 'Gemm' } },
      );
    }
    const alpha = attrOf(ctx.node, 'alpha');
    const beta = attrOf(ctx.node, 'beta');
    // Explicit transposes: wasm's matMul with transpose flags is an order of magnitude slower.
    const opA = attrOf(ctx.node, 'transA') === 1 ? tf.transpose(a) : a;
    const opB = attrOf(ctx.node, 'transB') === 1 ? tf.transpose(b) : b;
    let y = tf.matMul(opA, opB);
    if (alpha !== 1) y = tf.mul(y, alpha);
    const c = ctx.optional(2);
    if (c !== undefined) y = tf.add(y, beta === 1 ? c.t : tf.mul(c.t, beta));
    return [plain(y)];
  },
};

/** MatMul with numpy semantics (1-D operands promoted, batch dims broadcast). */
export const matMulRule: Rule = {
  trainable: [0, 1],
  run(ctx) {
    let a = nchw(ctx.input(0));
    let b = nchw(ctx.input(1));
    const aVec = a.rank === 1;
    const bVec = b.rank === 1;
    if (aVec) a = tf.reshape(a, [1, a.shape[0]!]);
    if (bVec) b = tf.reshape(b, [b.shape[0]!, 1]);
    let y = tf.matMul(a, b);
    if (aVec) y = tf.squeeze(y, [y.rank - 2]);
    if (bVec) y = tf.squeeze(y, [y.rank - 1]);
    return [plain(y)];
  },
};
