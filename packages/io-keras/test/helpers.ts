import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { writeOnnx } from '@mc/io-onnx';
import type { Model } from '@mc/ir';
import * as ort from 'onnxruntime-node';
import { SHARED_DIR, sharedAbsent, skipNote } from '../../../test-support/shared.js';

/** `../shared` next to the checkout (real models and data; never copied into the repo). */
export const SHARED = SHARED_DIR;
export const KERAS_DIR = `${SHARED}models/keras/`;
export const HAVE_SHARED = existsSync(`${KERAS_DIR}README.md`);
export const SKIP_SHARED = HAVE_SHARED ? false : `skipped: ${sharedAbsent('models/keras/README.md')}`;

const sessions = new WeakMap<Model, Promise<ort.InferenceSession>>();

/** Runs a model in onnxruntime-node (the real one) on float32 feeds; returns outputs by name. */
export async function runOrt(
  model: Model,
  feeds: Record<string, { data: Float32Array; dims: number[] }>,
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  let s = sessions.get(model);
  if (s === undefined) {
    s = ort.InferenceSession.create(writeOnnx(model), { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1 });
    sessions.set(model, s);
  }
  const session = await s;
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) f[k] = new ort.Tensor('float32', v.data, v.dims);
  const out = await session.run(f);
  const res: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
  for (const [k, v] of Object.entries(out)) res[k] = { data: v.data as Float32Array, dims: v.dims };
  return res;
}

/** Deterministic pseudo-random floats in [lo, hi). */
export function seeded(n: number, seed: number, lo = 0, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  }
  return out;
}

/** max |a-b| / max(|b|, tiny): error relative to the output scale. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return m / scale;
}

export function argmax(d: ArrayLike<number>, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (d[off + i]! > d[off + best]!) best = i;
  return best;
}

/** MNIST test set from the original IDX gz files: images as float32 pixel/255 [n, 28, 28], labels. */
export function mnistTest(n = 10000): { x: Float32Array; y: Uint8Array; n: number } {
  const img = gunzipSync(readFileSync(`${SHARED}data/mnist/t10k-images-idx3-ubyte.gz`));
  const lab = gunzipSync(readFileSync(`${SHARED}data/mnist/t10k-labels-idx1-ubyte.gz`));
  const count = Math.min(n, img.readUInt32BE(4));
  const x = new Float32Array(count * 784);
  for (let i = 0; i < x.length; i++) x[i] = img[16 + i]! / 255;
  return { x, y: lab.subarray(8, 8 + count), n: count };
}

/** The first 1,000 CIFAR-10 test images as raw 0-255 floats in HWC order (the ResNet8 input), with labels. */
export function cifarTest(): { x: Float32Array; y: Uint8Array; n: number } {
  const b = readFileSync(`${SHARED}data/cifar10/test_batch_first1000.bin`);
  const n = Math.floor(b.length / 3073);
  const x = new Float32Array(n * 3072);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const rec = 3073 * i;
    y[i] = b[rec]!;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) x[i * 3072 + p * 3 + c] = b[rec + 1 + c * 1024 + p]!;
  }
  return { x, y, n };
}

/** Top-1 accuracy (%) of class scores [n, k] against labels. */
export function accuracy(scores: Float32Array, labels: Uint8Array, k: number): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (argmax(scores, i * k, k) === labels[i]) ok++;
  return (100 * ok) / labels.length;
}

/** ` (skipped: …)` for the titles of tests that need ../shared/models/keras, '' when it is there. */
export const SHARED_NOTE = skipNote(sharedAbsent('models/keras/README.md'));
