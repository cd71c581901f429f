import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initTraining } from '../src/backend.js';

type Case = {
  name: string;
  x: number[];
  w: number[];
  strides: [number, number];
  pad: 'valid' | 'same' | tf.backend_util.ExplicitPadding;
  dil: [number, number];
};
const cases: Case[] = [
  { name: 'valid stride 1', x: [2, 7, 7, 3], w: [3, 3, 3, 4], strides: [1, 1], pad: 'valid', dil: [1, 1] },
  { name: 'same stride 1', x: [2, 6, 5, 2], w: [3, 3, 2, 3], strides: [1, 1], pad: 'same', dil: [1, 1] },
  { name: 'same stride 2 (odd size)', x: [2, 7, 9, 2], w: [3, 3, 2, 3], strides: [2, 2], pad: 'same', dil: [1, 1] },
  {
    name: 'explicit pads 2x1 stride 2x1',
    x: [1, 8, 6, 3],
    w: [5, 3, 3, 2],
    strides: [2, 1],
    pad: [
      [0, 0],
      [2, 1],
      [1, 0],
      [0, 0],
    ],
    dil: [1, 1],
  },
  { name: 'valid stride 3 (unread rows)', x: [2, 8, 8, 2], w: [2, 2, 2, 2], strides: [3, 3], pad: 'valid', dil: [1, 1] },
  { name: 'dilation 2 same', x: [1, 9, 9, 2], w: [3, 3, 2, 2], strides: [1, 1], pad: 'same', dil: [2, 2] },
  { name: '1x1 stride 2', x: [3, 6, 6, 4], w: [1, 1, 4, 5], strides: [2, 2], pad: 'valid', dil: [1, 1] },
];

/** Reference for dilated convs (stock tfjs has no dilated gradient): the filter with zeros inserted, dilation 1. */
function dilateFilter(w: tf.Tensor4D, [dh, dw]: [number, number]): tf.Tensor4D {
  const [kh, kw, ci, co] = w.shape;
  const r = tf.pad(tf.reshape(w, [kh, 1, kw, 1, ci * co]), [
    [0, 0],
    [0, dh - 1],
    [0, 0],
    [0, dw - 1],
    [0, 0],
  ]);
  return tf.slice(tf.reshape(r, [kh * dh, kw * dw, ci, co]), [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, ci, co]);
}

function run(c: Case, seed: number) {
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', seed) as tf.Tensor4D;
    const w = tf.randomNormal(c.w, 0, 1, 'float32', seed + 1) as tf.Tensor4D;
    const dilated = c.dil[0] > 1 || c.dil[1] > 1;
    const f = (a: tf.Tensor4D, b: tf.Tensor4D) =>
      dilated ? tf.conv2d(a, dilateFilter(b, c.dil), c.strides, c.pad, 'NHWC', 1) : tf.conv2d(a, b, c.strides, c.pad, 'NHWC', c.dil);
    const y = f(x, w);
    const r = tf.randomNormal(y.shape, 0, 1, 'float32', seed + 2);
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
    return {
      gx: gx!.dataSync().slice(),
      gw: gw!.dataSync().slice(),
      xs: x.dataSync().slice(),
      ws: w.dataSync().slice(),
      rs: r.dataSync().slice(),
      yshape: y.shape,
    };
  });
}

describe('Conv2D gradient kernels on wasm match stock tfjs-cpu', () => {
  it('all pad/stride/dilation cases within 2e-4 (relative to the gradient scale)', async () => {
    await tf.setBackend('cpu');
    // Stock gradients first: initTraining replaces the (global) Conv2D gradient.
    const refs = cases.map((c, i) => run(c, 10 * i));
    await initTraining('wasm');
    expect(tf.getBackend()).toBe('wasm');
    cases.forEach((c, i) => {
      const ref = refs[i]!;
      const got = tf.tidy(() => {
        const x = tf.tensor4d(ref.xs, c.x as [number, number, number, number]);
        const w = tf.tensor4d(ref.ws, c.w as [number, number, number, number]);
        const r = tf.tensor(ref.rs, ref.yshape);
        const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, c.strides, c.pad, 'NHWC', c.dil);
        const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), r)))([x, w]);
        return { gx: gx!.dataSync().slice(), gw: gw!.dataSync().slice() };
      });
      for (const k of ['gx', 'gw'] as const) {
        const a = ref[k];
        const b = got[k];
        expect(b.length, `${c.name} ${k} size`).toBe(a.length);
        let scale = 0;
        let err = 0;
        for (let j = 0; j < a.length; j++) {
          scale = Math.max(scale, Math.abs(a[j]!));
          err = Math.max(err, Math.abs(a[j]! - b[j]!));
        }
        expect(err / Math.max(1, scale), `${c.name} ${k}`).toBeLessThan(2e-4);
      }
    });
  });
});
