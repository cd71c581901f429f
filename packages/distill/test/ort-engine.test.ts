import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { loadMnist } from '@mc/datasets';
import { attr, ModelBuilder, Tensor, toFloat32, type Model } from '@mc/ir';
import { errorOf, randomTensor } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { initTraining } from '../src/backend.js';
import { TrainableGraph } from '../src/graph/compile.js';
import { dropoutMaskData } from '../src/kernels/dropout.js';
import { crossEntropy, distillLoss } from '../src/losses.js';
import { buildOrtGraph, ortUnsupported } from '../src/ort/graph.js';
import { setConvWeightGrad } from '../src/ort/rules.js';
import { OrtRunner } from '../src/ort/session.js';
import { ortTrainables } from '../src/ort/train-ort.js';
import { distill, finetune, lenet, mlp } from '../src/index.js';
import { branchyModel, cnnModel, randomData } from './fixtures.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

const mnistDir = sharedPath('data/mnist/');
const haveMnist = existsSync(`${mnistDir}/train-images-idx3-ubyte.gz`);
const w = (dims: number[], seed: number, scale = 0.4) => randomTensor('float32', dims, seed, scale);
const f32 = (v: number[]) => new Tensor('float32', [v.length], Float32Array.from(v));

/** Every conv-side rule: strided/asymmetric pads, BN on batch statistics, SAME_UPPER + dilation, overlapping padded MaxPool, a stride that drops rows. */
function convNet(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 2, 10, 10]);
  let h = b.node('Conv', [x, b.initializer('c1.w', w([4, 2, 3, 3], 1)), b.initializer('c1.b', w([4], 2))], {
    strides: [2, 2],
    pads: [1, 0, 0, 1],
  });
  h = b.node(
    'BatchNormalization',
    [
      h,
      b.initializer('bn.g', w([4], 3, 1)),
      b.initializer('bn.b', w([4], 4)),
      b.initializer('bn.m', w([4], 5)),
      b.initializer('bn.v', f32([0.5, 1, 2, 1.5])),
    ],
    { epsilon: attr.float(1e-3) },
  );
  h = b.node('Relu', [h]);
  h = b.node('Conv', [h, b.initializer('c2.w', w([6, 4, 3, 3], 6))], { auto_pad: 'SAME_UPPER', dilations: [2, 2] });
  h = b.node('LeakyRelu', [h], { alpha: attr.float(0.1) });
  h = b.node('MaxPool', [h], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  h = b.node('Add', [h, b.initializer('add.c', w([6, 1, 1], 7))]);
  h = b.node('Mul', [h, b.initializer('mul.c', f32([1.5]))]);
  h = b.node('Conv', [h, b.initializer('c3.w', w([5, 6, 2, 2], 8)), b.initializer('c3.b', w([5], 9))], { strides: [2, 2] });
  h = b.node('Flatten', [h]);
  h = b.node('Gemm', [h, b.initializer('fc1.w', w([7, 5], 10)), b.initializer('fc1.b', w([7], 11))], { transB: 1 });
  h = b.node('Sigmoid', [h]);
  h = b.node('MatMul', [h, b.initializer('fc2.w', w([7, 4], 12, 1))]);
  h = b.node('Add', [h, b.initializer('fc2.b', w([4], 13))]);
  h = b.node('Tanh', [h]);
  h = b.node('Div', [h, b.initializer('div.c', f32([0.5]))]);
  h = b.node('Sub', [h, b.initializer('sub.c', w([4], 14))]);
  b.output(b.node('Softmax', [h], { axis: -1 }), 'y');
  return b.build();
}

/** NHWC input transposed in, GlobalAveragePool, Reshape, Identity, Gemm with α/β/transA and a [1, K] bias, Dropout. */
function sideNet(): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', 'float32', ['N', 6, 6, 3]);
  let h = b.node('Transpose', [x], { perm: [0, 3, 1, 2] });
  h = b.node('Relu', [
    b.node('Conv', [h, b.initializer('c.w', w([5, 3, 3, 3], 21)), b.initializer('c.b', w([5], 22))], { pads: [1, 1, 1, 1] }),
  ]);
  h = b.node('Reshape', [
    b.node('GlobalAveragePool', [h]),
    b.initializer('shape', new Tensor('int64', [2], BigInt64Array.from([0n, -1n]))),
  ]);
  h = b.node('Identity', [h]);
  h = b.node('Dropout', [h, b.initializer('drop.r', new Tensor('float32', [], new Float32Array([0.3])))]);
  h = b.node('Transpose', [h], { perm: [1, 0] });
  h = b.node('Gemm', [h, b.initializer('fc.w', w([5, 4], 23)), b.initializer('fc.b', w([1, 4], 24))], {
    transA: 1,
    alpha: attr.float(0.5),
    beta: attr.float(2),
  });
  b.output(h, 'logits');
  return b.build();
}

/** Loss and gradients from the tfjs engine (tf.variableGrads over the interpreted model). */
async function tfGrads(
  model: Model,
  x: Float32Array,
  dims: number[],
  labels: number[],
  k: number,
  seed: number,
  soft?: { t: Float32Array; alpha: number; T: number },
) {
  await initTraining('wasm');
  const { trainable, state } = ortTrainables(model, {});
  const g = new TrainableGraph(model, { trainable: (n) => trainable.has(n) || state.has(n), batchNorm: 'batch' });
  try {
    const res = tf.tidy(() => {
      const xt = tf.tensor(x, dims);
      const y = tf.tensor1d(labels, 'int32');
      const f = () => {
        const z = g.forward([xt], { training: true, seed, logits: true });
        return soft === undefined ? crossEntropy(z, y, k) : distillLoss(z, tf.tensor2d(soft.t, [dims[0]!, k]), y, k, soft.T, soft.alpha);
      };
      const { value, grads } = tf.variableGrads(f, [...g.params.values()]);
      return { loss: value.dataSync()[0]!, grads: new Map([...g.params].map(([n, v]) => [n, grads[v.name]!.dataSync() as Float32Array])) };
    });
    const state = new Map([...g.state].map(([n, v]) => [n, v.dataSync() as Float32Array]));
    return { ...res, state };
  } finally {
    g.dispose();
  }
}

/** Loss and gradients from the generated onnxruntime graph. */
async function ortGrads(
  model: Model,
  x: Float32Array,
  dims: number[],
  labels: number[],
  k: number,
  seed: number,
  soft?: { t: Float32Array; alpha: number; T: number },
) {
  const { trainable, state } = ortTrainables(model, {});
  const graph = buildOrtGraph(model, { trainable, state, bnMomentum: 0.99, loss: { alpha: soft?.alpha ?? 0, temperature: soft?.T ?? 1 } });
  const r = await OrtRunner.create(graph, 1);
  try {
    const n = dims[0]!;
    const feeds: Record<string, [Float32Array, readonly number[]]> = { [graph.input]: [x, dims] };
    for (const name of graph.weights) {
      const c = model.graph.initializers.get(name)!.constValue!;
      feeds[name] = [toFloat32(c), c.dims];
    }
    const y = new Float32Array(n * k);
    labels.forEach((c, i) => (y[i * k + c] = 1));
    if (graph.target !== undefined) feeds[graph.target] = [y, [n, k]];
    if (graph.teacher !== undefined) feeds[graph.teacher] = [soft!.t, [n, k]];
    for (const d of graph.dropouts) {
      const size = n * d.dims.reduce((a, c) => a * c, 1);
      feeds[d.name] = [dropoutMaskData(size, d.ratio, seed * 7919 + d.node), [n, ...d.dims]];
    }
    const out = await r.run(feeds, [graph.loss!, ...graph.grads.values(), ...graph.stateOut.values()]);
    return {
      loss: out.get(graph.loss!)![0]!,
      grads: new Map([...graph.grads].map(([wn, o]) => [wn, out.get(o)!])),
      state: new Map([...graph.stateOut].map(([wn, o]) => [wn, out.get(o)!])),
    };
  } finally {
    await r.release();
  }
}

/** max |a − b| / max(max |b|, floor): a gradient that is zero in exact arithmetic (a bias before batch-statistics BN) is compared against the floor. */
const relErr = (a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-4) => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / Math.max(m, floor);
};

async function compare(model: Model, dims: number[], k: number, soft?: { alpha: number; T: number }) {
  const n = dims[0]!;
  const x = randomTensor('float32', dims, 99, 1).data as Float32Array;
  const labels = Array.from({ length: n }, (_, i) => (i * 3 + 1) % k);
  const s = soft && { ...soft, t: randomTensor('float32', [n, k], 5, 2).data as Float32Array };
  const a = await ortGrads(model, x, dims, labels, k, 3, s);
  const b = await tfGrads(model, x, dims, labels, k, 3, s);
  expect(Math.abs(a.loss - b.loss) / Math.abs(b.loss)).toBeLessThan(1e-5);
  expect([...a.grads.keys()].sort()).toEqual([...b.grads.keys()].sort());
  // Floor: 1e-3 of the largest gradient entry of the model.
  const scale = Math.max(...[...b.grads.values()].map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  const errs = Object.fromEntries([...b.grads].map(([name, g]) => [name, relErr(a.grads.get(name)!, g, 1e-3 * scale)]));
  for (const [name, e] of Object.entries(errs)) expect(e, `${name}: ${e}`).toBeLessThan(1e-4);
  for (const [name, v] of b.state) expect(relErr(a.state.get(name)!, v), name).toBeLessThan(1e-5);
  return { errs, state: b.state.size };
}

describe('onnxruntime training engine: generated gradients', () => {
  it("equal the tfjs engine's on a CNN covering Conv (pads, strides, SAME, dilation), BN, MaxPool, Gemm, MatMul, broadcasts", async () => {
    for (const mode of ['conv', 'im2col'] as const) {
      setConvWeightGrad(mode);
      const r = await compare(convNet(), [3, 2, 10, 10], 4);
      expect(Object.keys(r.errs).length).toBe(14);
      expect(r.state).toBe(2); // BN running mean and variance moved identically
      // The shared fixture: grouped Conv, SAME_UPPER, padded MaxPool, AveragePool with count_include_pad 0, Clip.
      const f = await compare(cnnModel(), [3, 3, 9, 9], 5);
      expect(Object.keys(f.errs)).toContain('c2.w');
    }
    setConvWeightGrad('im2col');
  });

  it("equal the tfjs engine's on Transpose, GlobalAveragePool, Reshape, Dropout (same seeded mask), Gemm α/β/transA, and the KD loss", async () => {
    await compare(sideNet(), [4, 6, 6, 3], 4);
    await compare(sideNet(), [4, 6, 6, 3], 4, { alpha: 0.7, T: 3 });
    await compare(mlp([12, 9, 5], { seed: 3, dropout: 0.25 }), [6, 12], 5, { alpha: 1, T: 4 });
    await compare(lenet({ seed: 2, channels: [3, 4], dense: 6 }), [5, 1, 28, 28], 10); // non-overlapping MaxPool windows
    await compare(branchyModel(), [3, 8, 8, 2], 4); // Concat of two conv branches, Sub, GlobalAveragePool, Reshape
    const b = new ModelBuilder({ opset: 17 });
    const i64 = (v: number[]) => new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));
    let h = b.node('MatMul', [b.input('x', 'float32', ['N', 6]), b.initializer('m.w', w([6, 8], 41, 1))]);
    h = b.node('Clip', [
      h,
      b.initializer('lo', new Tensor('float32', [], new Float32Array([-0.3]))),
      b.initializer('hi', new Tensor('float32', [], new Float32Array([0.4]))),
    ]);
    h = b.node('Squeeze', [b.node('Unsqueeze', [h, b.initializer('ax', i64([1]))]), b.initializer('ax2', i64([1]))]);
    b.output(b.node('Gemm', [h, b.initializer('g.w', w([8, 3], 42))]), 'logits');
    await compare(b.build(), [7, 6], 3); // Clip, Unsqueeze, Squeeze
  });

  it('a fixed batch in a Reshape constant ([1, 48] for a [1, …] input) follows the trained batch', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 3, 4, 4]);
    let h = b.node('Relu', [b.node('Conv', [x, b.initializer('c.w', w([3, 3, 3, 3], 31))], { pads: [1, 1, 1, 1] })]);
    h = b.node('Reshape', [h, b.initializer('shape', new Tensor('int64', [2], BigInt64Array.from([1n, 48n])))]);
    b.output(b.node('Gemm', [h, b.initializer('fc.w', w([5, 48], 32)), b.initializer('fc.b', w([1, 5], 33))], { transB: 1 }), 'logits');
    await compare(b.build(), [4, 3, 4, 4], 5);
  });

  it('a model with an op that has no rule falls back to wasm with the reason; engine "ort" refuses it', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const h = b.node('Elu', [
      b.node('MatMul', [b.node('Flatten', [b.input('x', 'float32', ['N', 3, 9, 9])]), b.initializer('m.w', w([243, 4], 51, 0.1))]),
    ]);
    b.output(b.node('Gemm', [h, b.initializer('g.w', w([4, 5], 52))]), 'logits');
    const model = b.build();
    const why = ortUnsupported(model, ortTrainables(model, {}).trainable);
    expect(why).toMatch(/^Elu node .* no gradient rule for Elu/);
    const data = randomData([3, 9, 9], 8, 5, 1);
    const { report } = await finetune(model, data, { epochs: 1, batchSize: 4 });
    expect(report.engine).toBe('wasm');
    expect(report.engineReason).toBe(`auto: ${why}`);
    expect(await errorOf(finetune(model, data, { epochs: 1, engine: 'ort' }))).toMatch(
      /^E_UNSUPPORTED: engine 'ort' cannot train this model/,
    );
    // Any model teaches on the ort engine: a forward-only graph at its own opset (11: attribute Clip/Dropout).
    const kd = await distill(cnnModel(11), mlp([243, 8, 5], { seed: 1 }), data, { epochs: 1, batchSize: 4, engine: 'ort', threads: 1 });
    expect(kd.report.engine).toBe('ort');
    expect(Number.isFinite(kd.report.epochs[0]!.loss)).toBe(true);
  });
});

describe.skipIf(!haveMnist)(`onnxruntime training engine on MNIST${skipNote(sharedAbsent('data/mnist'))}`, () => {
  it("gives the wasm engine's step losses (MLP with dropout, LeNet CNN) and distils", async () => {
    const train = (await loadMnist(mnistDir, { split: 'train' })).subset(Array.from({ length: 192 }, (_, i) => i));
    for (const make of [() => mlp([784, 48, 10], { seed: 1, dropout: 0.2 }), () => lenet({ seed: 1 })]) {
      const losses: Record<string, number[]> = { ort: [], wasm: [] };
      const runs = [];
      for (const engine of ['ort', 'wasm'] as const) {
        const r = await finetune(make(), train, {
          epochs: 1,
          batchSize: 64,
          seed: 2,
          engine,
          threads: 1,
          onProgress: (e) => e.type === 'step' && losses[engine]!.push(e.loss),
        });
        expect(r.report.engine).toBe(engine);
        runs.push(r);
      }
      expect(losses.ort!.length).toBe(3);
      for (let i = 0; i < 3; i++) expect(Math.abs(losses.ort![i]! - losses.wasm![i]!) / losses.wasm![i]!).toBeLessThan(2e-3);
      const [a, b] = runs.map((r) =>
        toFloat32(r.model.graph.initializers.get('dense2.weight')?.constValue ?? r.model.graph.initializers.get('fc2.weight')!.constValue!),
      );
      expect(relErr(a!, b!)).toBeLessThan(1e-2);
    }
    const teacher = lenet({ seed: 4 });
    const r = await distill(teacher, mlp([784, 32, 10], { seed: 5 }), train.withoutLabels(), {
      epochs: 1,
      batchSize: 64,
      unlabeled: true,
      threads: 1,
    });
    expect(r.report.engine).toBe('ort');
    expect(r.report.engineReason).toMatch(/^auto: every op/);
    expect(Number.isFinite(r.report.epochs[0]!.loss)).toBe(true);
  });
});
