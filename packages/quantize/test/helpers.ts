import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { type Model, ModelBuilder, Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { writeOnnx } from '@mc/io-onnx';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { SHARED_DIR } from '../../../test-support/shared.js';

export const shared = SHARED_DIR;
export const mnistDir = join(shared, 'data/mnist');
export const mnistModel = join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
export const haveMnist = existsSync(join(mnistDir, 't10k-images-idx3-ubyte.gz')) && existsSync(mnistModel);
/** Appended to the name of a test or suite that needs {@link haveMnist}, so a skipped one says why. */
export const MNIST = haveMnist ? '' : ` (skipped: ${mnistDir} or ${mnistModel} is missing)`;

/** Session option that keeps onnxruntime-node from turning DQ→MatMul into MatMulNBits with int8 activations. */
export const EXACT_DQ = { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } } as const;

function rand(seed: number, n: number, scale = 1): Float32Array {
  const g = seededNormal(seed);
  return Float32Array.from({ length: n }, () => g() * scale);
}

/**
 * A small net covering the weight ops: Conv(bias) → Relu → MaxPool → Reshape → MatMul → Add → Relu → Gemm(transB=1, bias).
 */
export function smallNet(opset = 17): Model {
  const b = new ModelBuilder({ opset, irVersion: 8 });
  const x = b.input('x', 'float32', [2, 3, 10, 10]);
  const w = b.initializer('conv_w', new Tensor('float32', [8, 3, 3, 3], rand(1, 216, 0.3)));
  const cb = b.initializer('conv_b', new Tensor('float32', [8], rand(2, 8, 0.1)));
  let y = b.node('Conv', [x, w, cb], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' });
  y = b.node('Relu', [y], {}, { name: 'relu1' });
  y = b.node('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'pool' });
  y = b.node('Reshape', [y, b.initializer('shape', new Tensor('int64', [2], new BigInt64Array([2n, 200n])))], {}, { name: 'flatten' });
  const w1 = b.initializer('fc1_w', new Tensor('float32', [200, 64], rand(3, 200 * 64, 0.1)));
  y = b.node('MatMul', [y, w1], {}, { name: 'fc1' });
  y = b.node('Add', [y, b.initializer('fc1_b', new Tensor('float32', [64], rand(4, 64, 0.1)))], {}, { name: 'fc1_bias' });
  y = b.node('Relu', [y], {}, { name: 'relu2' });
  const w2 = b.initializer('fc2_w', new Tensor('float32', [10, 64], rand(5, 640, 0.2)));
  y = b.node('Gemm', [y, w2, b.initializer('fc2_b', new Tensor('float32', [10], rand(6, 10, 0.1)))], { transB: 1 }, { name: 'fc2' });
  b.output(y, 'logits');
  return b.build();
}

export function netFeeds(seed: number): Record<string, Tensor> {
  return { x: new Tensor('float32', [2, 3, 10, 10], rand(seed, 600)) };
}

/** Runs in onnxruntime-web (wasm backend, one thread) from Node; float32 outputs by name. Feeds keep their dtypes. */
export async function runWeb(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const s = await ort.InferenceSession.create(writeOnnx(model));
  try {
    const inputs: Record<string, import('onnxruntime-web').Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.dims]);
    const r = await s.run(inputs);
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

/** Whether /usr/bin/python3 imports Debian python3-onnx: the onnx.checker tests run only then. */
export const havePyOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

/** Appended to the name of an onnx.checker test, so a skipped one says why. */
export const PY_ONNX = havePyOnnx ? '' : ' (skipped: Debian python3-onnx is not installed; apt-get install python3-onnx)';

/** Debian python3-onnx (1.12) checker: the error text, '' when the model is valid. Call only when {@link havePyOnnx}. */
export function onnxChecker(model: Model): string {
  if (!havePyOnnx) throw new Error('onnxChecker needs Debian python3-onnx; guard the test with it.skipIf(!havePyOnnx)');
  const dir = mkdtempSync(join(tmpdir(), 'mc-q-'));
  const f = join(dir, 'm.onnx');
  // onnx 1.12 knows IR <= 8 (opset <= 17); IR 9/10 add only new types, so an opset <= 17 model is checked at IR 8
  const m = model.clone();
  if ((m.opset('') ?? 0) <= 17 && m.irVersion > 8) m.irVersion = 8;
  try {
    writeFileSync(f, writeOnnx(m));
    const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]))', f], {
      encoding: 'utf8',
    });
    return r.status === 0 ? '' : (r.stderr.trim().split('\n').pop() ?? 'failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * onnx.checker's complaints about each labelled model ([] when all pass), so one test checks the models several tests
 * made. Call only when {@link havePyOnnx}.
 */
export async function checkerFailures(models: Iterable<readonly [string, () => Promise<Model>]>): Promise<string[]> {
  const failures: string[] = [];
  for (const [label, model] of models) {
    const e = onnxChecker(await model());
    if (e !== '') failures.push(`${label}: ${e}`);
  }
  return failures;
}

/** Runs `f` once, on first call, and hands every caller the same promise: two tests share one quantization. */
export function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** First n MNIST test images as float32 [n,1,28,28] raw 0-255 pixels (the CNTK model's input) and labels. */
export function mnistTest(n: number, split: 'train' | 't10k' = 't10k'): { images: Float32Array; labels: Uint8Array } {
  const img = gunzipSync(readFileSync(join(mnistDir, `${split}-images-idx3-ubyte.gz`)));
  const lab = gunzipSync(readFileSync(join(mnistDir, `${split}-labels-idx1-ubyte.gz`)));
  const images = Float32Array.from(img.subarray(16, 16 + n * 784));
  return { images, labels: lab.subarray(8, 8 + n) };
}

/** Batches of [1,1,28,28] feeds (the CNTK model has a fixed batch of 1). */
export function* mnistFeeds(images: Float32Array, from: number, to: number, name = 'Input3'): Iterable<Record<string, Tensor>> {
  for (let i = from; i < to; i++) yield { [name]: new Tensor('float32', [1, 1, 28, 28], images.slice(i * 784, (i + 1) * 784)) };
}

/** The largest |a[i] − b[i]| of two outputs of the same shape (their lengths are asserted equal). */
export function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
