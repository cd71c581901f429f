import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { ArrayDataset, evaluate, loadMnist } from '@mc/datasets';
import { ModelBuilder, Tensor, toFloat32 } from '@mc/ir';
import { createSession } from '@mc/verify';
import { errorOf, randomTensor } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { initTraining } from '../src/backend.js';
import { distillLoss, softTargetLoss } from '../src/losses.js';
import { distill, finetune, mlp } from '../src/index.js';
import { cnnModel, randomData } from './fixtures.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

const mnistDir = sharedPath('data/mnist/');
const haveMnist = existsSync(`${mnistDir}/train-images-idx3-ubyte.gz`);

const codeOf = errorOf;

describe('KD loss math (Hinton 2015)', () => {
  it('soft loss = T²·Σ p_T log(1/q_T) by hand; α mixes with CE; gradient = T·(q_T − p_T)/B', async () => {
    await initTraining('wasm');
    const s = [1, 2, 0.5, -1, 0, 3];
    const t = [2, 1, 0, 0, 1, 2];
    const T = 3;
    const sm = (z: number[]) => {
      const e = z.map((v) => Math.exp(v / T));
      const sum = e.reduce((a, b) => a + b);
      return e.map((v) => v / sum);
    };
    let want = 0;
    for (let r = 0; r < 2; r++) {
      const p = sm(t.slice(3 * r, 3 * r + 3));
      const q = sm(s.slice(3 * r, 3 * r + 3));
      want += -p.reduce((a, pi, i) => a + pi * Math.log(q[i]!), 0);
    }
    want = (want / 2) * T * T;
    const S = tf.tensor2d(s, [2, 3]);
    const Tt = tf.tensor2d(t, [2, 3]);
    expect(softTargetLoss(S, Tt, T).dataSync()[0]).toBeCloseTo(want, 5);
    // α = 0 is plain cross-entropy with the labels.
    const y = tf.tensor1d([1, 2], 'int32');
    const ce =
      -(Math.log(Math.exp(2) / (Math.exp(1) + Math.exp(2) + Math.exp(0.5))) + Math.log(Math.exp(3) / (Math.exp(-1) + 1 + Math.exp(3)))) / 2;
    expect(distillLoss(S, Tt, y, 3, T, 0).dataSync()[0]).toBeCloseTo(ce, 5);
    expect(distillLoss(S, Tt, y, 3, T, 0.7).dataSync()[0]).toBeCloseTo(0.7 * want + 0.3 * ce, 5);
    // d(soft)/dz_s = T·(q − p)/B: the T² keeps the gradient scale at O(1/T)·T² = O(T) of the raw difference.
    const g = tf
      .grad((z: tf.Tensor) => softTargetLoss(z, Tt, T))(S)
      .dataSync();
    const p0 = sm(t.slice(0, 3));
    const q0 = sm(s.slice(0, 3));
    for (let i = 0; i < 3; i++) expect(g[i]).toBeCloseTo((T * (q0[i]! - p0[i]!)) / 2, 5);
  });
});

describe('training behaviour', () => {
  it('masks: zero weights stay exactly zero; BN-γ L1 shrinks γ', async () => {
    const model = cnnModel();
    const fc = model.graph.initializers.get('fc1.w')!;
    const pruned = toFloat32(fc.constValue!).map((v, i) => (i % 3 === 0 ? 0 : v));
    fc.constValue = new Tensor('float32', fc.constValue!.dims, pruned);
    const data = randomData([3, 9, 9], 32, 5, 1);
    const { model: out, report } = await finetune(model, data, { epochs: 2, batchSize: 16, learningRate: 0.05, masks: 'zeros', bnL1: 0.5 });
    expect(report.masked).toContain('fc1.w');
    const w = toFloat32(out.graph.initializers.get('fc1.w')!.constValue!);
    for (let i = 0; i < w.length; i += 3) expect(w[i]).toBe(0);
    expect(w.some((v, i) => i % 3 !== 0 && v !== pruned[i])).toBe(true);
    const l1 = (m: typeof model) => toFloat32(m.graph.initializers.get('bn.g')!.constValue!).reduce((a, v) => a + Math.abs(v), 0);
    expect(l1(out)).toBeLessThan(l1(model));
  });

  it('same seed gives bit-identical weights; onProgress reports every step', async () => {
    const data = randomData([3, 9, 9], 32, 5, 2);
    const events: string[] = [];
    const a = await finetune(cnnModel(), data, { epochs: 1, batchSize: 16, seed: 4, onProgress: (e) => events.push(e.type) });
    const b = await finetune(cnnModel(), data, { epochs: 1, batchSize: 16, seed: 4 });
    expect(events).toEqual(['step', 'step', 'epoch']);
    for (const name of a.report.trained) {
      expect(toFloat32(a.model.graph.initializers.get(name)!.constValue!)).toEqual(
        toFloat32(b.model.graph.initializers.get(name)!.constValue!),
      );
    }
  });

  it('early stopping restores the best epoch; NaN loss stops with E_NUMERIC or keeps the last good weights', async () => {
    const data = randomData([3, 9, 9], 40, 5, 3);
    const r = await finetune(cnnModel(), data, {
      epochs: 6,
      batchSize: 8,
      learningRate: 0.3,
      validationSplit: 0.25,
      earlyStopping: { patience: 1 },
    });
    expect(r.report.validationSamples).toBe(10);
    expect(r.report.epochs.every((e) => e.valAccuracy !== undefined)).toBe(true);
    if (r.report.stoppedBy === 'early-stopping') expect(r.report.bestEpoch).toBeLessThan(r.report.epochs.length);
    const bad = new ArrayDataset({
      name: 'bad',
      inputShape: [3, 9, 9],
      numClasses: 5,
      samples: new Float32Array(16 * 243).fill(1e30),
      labels: new Int32Array(16),
    });
    const net = mlp([243, 5]); // no ReLU: XNNPACK clamps NaN to 0 in max(x, 0)
    expect(await codeOf(finetune(net, bad, { epochs: 1, batchSize: 8, scale: 1e10 }))).toMatch(/^E_NUMERIC: loss became (NaN|Infinity)/);
    const kept = await finetune(net, bad, { epochs: 1, batchSize: 8, scale: 1e10, onNaN: 'stop' });
    expect(kept.report.stoppedBy).toBe('nan-loss');
    expect(toFloat32(kept.model.graph.initializers.get('fc1.weight')!.constValue!)).toEqual(
      toFloat32(net.graph.initializers.get('fc1.weight')!.constValue!),
    );
  });

  it('no tensors leak across finetune/distill runs', async () => {
    const data = randomData([3, 9, 9], 32, 5, 5);
    await finetune(cnnModel(), data, { epochs: 1, batchSize: 16 });
    const before = tf.memory().numTensors;
    await finetune(cnnModel(), data, { epochs: 1, batchSize: 16, masks: 'zeros', validationSplit: 0.25 });
    await distill(cnnModel(), cnnModel(), data, { epochs: 1, batchSize: 16 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an aborted signal stops training with its reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    await expect(finetune(cnnModel(), randomData([3, 9, 9], 16, 5, 1), { signal: ac.signal })).rejects.toThrow('stop now');
  });

  it('bad input: wrong data shape, unknown op, teacher/student mismatch, bad options — coded, model untouched', async () => {
    const model = cnnModel();
    const mnistLike = randomData([1, 28, 28], 8, 5, 1);
    expect(await codeOf(finetune(model, mnistLike))).toMatch(
      /^E_FORMAT: model input 'x' expects \[\?, 3, 9, 9\] but dataset 'random' gives samples \[1, 28, 28\]/,
    );
    expect(await codeOf(finetune(model, randomData([3, 9, 9], 8, 7, 1)))).toMatch(/^E_FORMAT: model output .* expected \[batch, 7\]/);
    expect(await codeOf(distill(mlp([243, 8, 7]), model, randomData([3, 9, 9], 8, 5, 1)))).toMatch(/^E_FORMAT: teacher scores \[8, 7\]/);
    expect(await codeOf(finetune(model, randomData([3, 9, 9], 8, 5, 1), { learningRate: -1 }))).toMatch(/^E_OPTION: learningRate -1/);
    expect(await codeOf(finetune(model, randomData([3, 9, 9], 8, 5, 1).withoutLabels()))).toMatch(/^E_OPTION: dataset .* has no labels/);
    const lstm = cnnModel();
    lstm.graph.nodes[1]!.opType = 'LSTM';
    expect(await codeOf(finetune(lstm, randomData([3, 9, 9], 8, 5, 1)))).toMatch(/^E_UNSUPPORTED: LSTM node '.*' cannot be trained/);
  });
});

describe.skipIf(!haveMnist)(`MNIST${skipNote(sharedAbsent('data/mnist'))}`, () => {
  it('a tiny MLP learns 2000 MNIST samples: test accuracy (ORT) > 85% after 2 epochs; label-free distillation works', async () => {
    const train = await loadMnist(mnistDir, { split: 'train', limit: 2000 });
    const test = await loadMnist(mnistDir, { split: 'test', limit: 1000 });
    const { model, report } = await finetune(mlp([784, 64, 10], { seed: 1 }), train, {
      epochs: 2,
      batchSize: 32,
      learningRate: 5e-3,
      seed: 1,
    });
    expect(report.epochs[1]!.loss).toBeLessThan(report.epochs[0]!.loss);
    const ort = async (m: typeof model) => {
      const s = await createSession(m);
      const r = await evaluate(
        async (b) => Object.values(await s.run({ input: new Tensor('float32', b.dims, b.x) }))[0]!.data as Float32Array,
        test,
        { layout: 'flat' },
      );
      await s.release();
      return r.top1;
    };
    const acc = await ort(model);
    expect(acc).toBeGreaterThan(0.85);
    // The trained MLP teaches a fresh one without labels.
    const student = await distill(model, mlp([784, 64, 10], { seed: 2 }), train.withoutLabels(), {
      epochs: 2,
      batchSize: 32,
      learningRate: 5e-3,
      unlabeled: true,
    });
    expect(await ort(student.model)).toBeGreaterThan(acc - 0.05);
  });
});

describe('a model exported with a fixed batch', () => {
  /** CNTK-style: input [1, 3, 9, 9], a Reshape to the constant [1, 36] before the classifier. */
  function fixedBatchModel() {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 3, 9, 9]);
    let h = b.node('Conv', [x, b.initializer('c.w', randomTensor('float32', [4, 3, 3, 3], 1, 0.3))], { strides: [3, 3] });
    h = b.node('Relu', [h]);
    h = b.node('Reshape', [h, b.initializer('shape', new Tensor('int64', [2], BigInt64Array.from([1n, 36n])))]);
    b.output(b.node('Gemm', [h, b.initializer('fc.w', randomTensor('float32', [36, 5], 2, 0.3))]), 'y');
    return b.build();
  }
  for (const engine of ['wasm', 'ort'] as const) {
    it(`${engine}: trains at batch 8 and writes back its own Reshape shape`, async () => {
      const r = await finetune(fixedBatchModel(), randomData([3, 9, 9], 16, 5, 3), { epochs: 1, batchSize: 8, engine });
      expect(r.report.engine).toBe(engine);
      expect(r.report.steps).toBe(2);
      expect(Array.from(toFloat32(r.model.graph.initializers.get('shape')!.constValue!))).toEqual([1, 36]);
      expect(r.model.graph.initializers.size).toBe(3);
    });
  }
});
