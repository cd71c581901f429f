import * as tf from '@tensorflow/tfjs-core';
import { McError } from '@mc/ir';
import { registerMatMulGradient } from './matmul-grad.js';

type Pair = [number, number];
const pair = (v: number | readonly number[] | undefined, dflt: number): Pair =>
  v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0] ?? dflt, v[1] ?? v[0] ?? dflt];

/** Attributes of tfjs's Conv2D kernel as the gradient registry hands them over. */
interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * Inserts `s - 1` zeros between the rows/columns of `dy` [B, H, W, C] (the "dilated" output gradient of a strided
 * conv), built from reshape + pad so it runs on every backend.
 */
function upsampleZeros(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [b, h, w, c] = dy.shape;
  const r = tf.reshape(dy, [b * h, 1, w, 1, c]);
  const p = tf.pad(r, [
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  const full = tf.reshape(p, [b, h * sh, w * sw, c]);
  return tf.slice(full, [0, 0, 0, 0], [b, (h - 1) * sh + 1, (w - 1) * sw + 1, c]) as tf.Tensor4D;
}

/**
 * Gradients of an NHWC conv2d with any padding, strides and dilations, written with forward conv2d only (which
 * XNNPACK runs fast on wasm; stock wasm has no Conv2DBackpropFilter).
 *
 * With the input padded to `xp` (pads t, l) and filter `w[i, j, ci, co]`, the forward conv is
 * `y[b, oh, ow, co] = Σ xp[b, oh·s + i·d, ow·s + j·d, ci] · w[i, j, ci, co]`. Hence
 * - `dW[i, j, ci, co] = Σ_{b,oh,ow} xp[b, oh·s + i·d, …, ci] · dy[b, oh, ow, co]`: a conv of `xpᵀ` [ci, H, W, b] with
 *   `dyᵀ` [oh, ow, b, co] as the filter, filter dilation `s`, output stride `d`;
 * - `dxp[b, h, …, ci] = Σ_{oh, i: oh·s + i·d = h} dy · w`: a full correlation of the zero-upsampled `dy` with the
 *   spatially flipped, in/out-swapped filter at dilation `d`, then cropped back by the pads.
 *
 * @internal
 */
export function conv2dGrads(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  dy: tf.Tensor4D,
  attrs: Conv2DAttrs,
): { dx: () => tf.Tensor4D; dW: () => tf.Tensor4D } {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC') {
    throw new McError('E_UNSUPPORTED', `conv2d gradient: dataFormat ${attrs.dataFormat} is not supported; mc trains convolutions in NHWC`);
  }
  const [sh, sw] = pair(attrs.strides, 1);
  const [dh, dw] = pair(attrs.dilations, 1);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape,
    filter.shape,
    [sh, sw],
    [dh, dw],
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { top, left } = info.padInfo;
  const [B, H, W, Ci] = x.shape;
  const [kh, kw, , Co] = filter.shape;
  const [, oh, ow] = dy.shape;
  // Rows of the padded input the forward conv actually reads.
  const usedH = (oh - 1) * sh + (kh - 1) * dh + 1;
  const usedW = (ow - 1) * sw + (kw - 1) * dw + 1;
  return {
    dW: () =>
      tf.tidy(() => {
        // Padded input, cut (or zero-extended) to exactly the rows/cols the forward conv reads.
        const xp = tf.pad(x, [
          [0, 0],
          [top, Math.max(0, usedH - H - top)],
          [left, Math.max(0, usedW - W - left)],
          [0, 0],
        ]);
        const xc = xp.shape[1] === usedH && xp.shape[2] === usedW ? xp : tf.slice(xp, [0, 0, 0, 0], [B, usedH, usedW, Ci]);
        const xt = tf.transpose(xc, [3, 1, 2, 0]) as tf.Tensor4D; // [ci, H, W, b]
        const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [oh, ow, b, co]
        let g: tf.Tensor4D;
        if (dh === 1 && dw === 1) {
          g = tf.conv2d(xt, dyt, 1, 'valid', 'NHWC', [sh, sw]); // [ci, kh, kw, co]
        } else if (sh === 1 && sw === 1) {
          g = tf.conv2d(xt, dyt, [dh, dw], 'valid', 'NHWC', 1);
        } else {
          // tfjs forbids stride > 1 together with dilation > 1: take every d-th row of the stride-1 result.
          const full = tf.conv2d(xt, dyt, 1, 'valid', 'NHWC', [sh, sw]);
          g = tf.stridedSlice(full, [0, 0, 0, 0], [Ci, (kh - 1) * dh + 1, (kw - 1) * dw + 1, Co], [1, dh, dw, 1]) as tf.Tensor4D;
        }
        if (g.shape[1] !== kh || g.shape[2] !== kw) g = tf.slice(g, [0, 0, 0, 0], [Ci, kh, kw, Co]);
        return tf.transpose(g, [1, 2, 0, 3]) as tf.Tensor4D;
      }),
    dx: () =>
      tf.tidy(() => {
        const up = upsampleZeros(dy, sh, sw); // [b, (oh-1)s+1, …, co]
        const wf = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, co, ci]
        const eh = (kh - 1) * dh;
        const ew = (kw - 1) * dw;
        // Full correlation yields the `used` rows of the padded input; crop the pads off the top/left and
        // zero-fill rows the forward conv never read at the bottom/right.
        const padTop = eh - top;
        const padLeft = ew - left;
        const padBottom = eh + (H + top - usedH);
        const padRight = ew + (W + left - usedW);
        if (padTop >= 0 && padLeft >= 0 && padBottom >= 0 && padRight >= 0) {
          return tf.conv2d(
            up,
            wf,
            1,
            [
              [0, 0],
              [padTop, padBottom],
              [padLeft, padRight],
              [0, 0],
            ],
            'NHWC',
            [dh, dw],
          );
        }
        const full = tf.conv2d(
          up,
          wf,
          1,
          [
            [0, 0],
            [eh, eh + Math.max(0, H + top - usedH)],
            [ew, ew + Math.max(0, W + left - usedW)],
            [0, 0],
          ],
          'NHWC',
          [dh, dw],
        );
        return tf.slice(full, [0, top, left, 0], [B, H, W, Ci]);
      }),
  };
}

let registered = false;

/**
 * Registers the Conv2D gradient above (and the faster BatchMatMul gradient) with tfjs (gradients are global, so every backend uses it). Idempotent.
 *
 * @internal
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerMatMulGradient();
  tf.registerGradient({
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const g = conv2dGrads(x, filter, dy as tf.Tensor4D, attrs as unknown as Conv2DAttrs);
      return { x: g.dx, filter: g.dW };
    },
  });
}
