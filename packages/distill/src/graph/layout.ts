import * as tf from '@tensorflow/tfjs-core';

/**
 * A tensor during interpretation. 4-D activations produced by convolutions are kept NHWC (`nhwc: true`), the layout
 * tfjs/XNNPACK convolve in; the IR (ONNX) meaning is always NCHW, so ops that care about axes convert back.
 * @internal
 */
export interface Val {
  readonly t: tf.Tensor;
  readonly nhwc: boolean;
}

/** NCHW position `a` sits at NHWC position `NCHW_TO_NHWC_AXIS[a]`. @internal */
export const NCHW_TO_NHWC_AXIS = [0, 3, 1, 2] as const;

/** @internal */
export const nchw = (v: Val): tf.Tensor => (v.nhwc ? tf.transpose(v.t, [0, 3, 1, 2]) : v.t);

/** @internal */
export const nhwc = (v: Val): tf.Tensor4D => (v.nhwc ? v.t : tf.transpose(v.t, [0, 2, 3, 1])) as tf.Tensor4D;

/** @internal */
export const plain = (t: tf.Tensor): Val => ({ t, nhwc: false });

/**
 * An elementwise binary op with ONNX (numpy) broadcasting. When one side is NHWC and the other has rank ≤ 4, the other
 * is right-aligned to rank 4 (what broadcasting does anyway) and permuted the same way, so no activation moves.
 * @internal
 */
export function binary(a: Val, b: Val, f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): Val {
  if (!a.nhwc && !b.nhwc) return plain(f(a.t, b.t));
  if (a.nhwc && b.nhwc) return { t: f(a.t, b.t), nhwc: true };
  const other = a.nhwc ? b : a;
  if (other.t.rank > 4) return plain(f(nchw(a), nchw(b)));
  const as4 = other.t.rank === 4 ? other.t : tf.reshape(other.t, [...Array(4 - other.t.rank).fill(1), ...other.t.shape]);
  const o = tf.transpose(as4, [0, 2, 3, 1]);
  return { t: a.nhwc ? f(a.t, o) : f(o, b.t), nhwc: true };
}
