import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { perplexity, readNpy } from '@mc/datasets';
import { loadOnnx, writeOnnx } from '@mc/io-onnx';
import { attr, ModelBuilder, Tensor, type Model } from '@mc/ir';
import { randomTensor } from '@mc/ir/testing';
import { createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { buildOrtGraph } from '../src/ort/graph.js';
import { OrtRunner } from '../src/ort/session.js';
import { ortTrainables } from '../src/ort/train-ort.js';
import { distillLm } from '../src/index.js';
import { randomGpt } from '../../verify/test/third-party.js';

const V = 11;
const D = 8;
const w = (dims: number[], seed: number, scale = 0.5) => randomTensor('float32', dims, seed, scale);

/**
 * A one-block attention LM covering every transformer rule: Gather (embedding), LayerNormalization, MatMul of a
 * weight and of two activations, head split/merge Reshape and Transpose, Softmax mid-graph, Erf, a Shape path that
 * carries no gradient, and [N, T, V] logits.
 */
function tinyLm(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const ids = b.input('input_ids', 'int64', ['N', 5]);
  let x = b.node('Gather', [b.initializer('emb', w([V, D], 1)), ids]);
  const h = b.node('LayerNormalization', [x, b.initializer('ln.g', w([D], 2, 1)), b.initializer('ln.b', w([D], 3))], {
    axis: -1,
    epsilon: attr.float(1e-5),
  });
  const shape = b.node('Shape', [h]); // [N, T, D] → the split target [N, T, 2, 4] from the runtime shape
  const lead = b.node('Slice', [
    shape,
    b.initializer('s0', new Tensor('int64', [1], BigInt64Array.of(0n))),
    b.initializer('s1', new Tensor('int64', [1], BigInt64Array.of(2n))),
  ]);
  const split = b.node('Concat', [lead, b.initializer('hd', new Tensor('int64', [2], BigInt64Array.of(2n, 4n)))], { axis: 0 });
  const heads = (name: string, seed: number) =>
    b.node('Transpose', [b.node('Reshape', [b.node('MatMul', [h, b.initializer(name, w([D, D], seed))]), split])], { perm: [0, 2, 1, 3] });
  const [q, k, v] = [heads('wq', 4), heads('wk', 5), heads('wv', 6)];
  const s = b.node('Softmax', [b.node('MatMul', [q, b.node('Transpose', [k], { perm: [0, 1, 3, 2] })])], { axis: -1 });
  const ctx = b.node('Reshape', [
    b.node('Transpose', [b.node('MatMul', [s, v])], { perm: [0, 2, 1, 3] }),
    b.initializer('merge', new Tensor('int64', [3], BigInt64Array.of(0n, 0n, BigInt(D)))),
  ]);
  x = b.node('Add', [x, b.node('Erf', [ctx])]);
  b.output(b.node('MatMul', [x, b.initializer('head', w([D, V], 7))]), 'logits', { dtype: 'float32' });
  return b.build();
}

/**
 * Checks dLoss/dW of every trainable weight of `model` (input `input_ids` int64 [3, 5] or float `x`, logits
 * [3, 5, V]) against central finite differences of the loss, on both loss terms.
 */
async function checkGradients(model: Model, input: [Float32Array | BigInt64Array, number[]], expected: string[]): Promise<void> {
  const { trainable } = ortTrainables(model, {});
  expect([...trainable].sort()).toEqual(expected);
  const g = buildOrtGraph(model, { trainable, state: new Set(), bnMomentum: 0.99, loss: { alpha: 0.5, temperature: 2 } });
  const runner = await OrtRunner.create(g, 1);
  try {
    const rows = 15;
    const weights = new Map(
      [...g.weights].map((name) => [name, Float32Array.from(model.graph.initializers.get(name)!.constValue!.data as Float32Array)]),
    );
    const dims = new Map([...g.weights].map((name) => [name, model.graph.initializers.get(name)!.constValue!.dims]));
    const target = new Float32Array(rows * V);
    for (let r = 0; r < rows; r++) target[r * V + ((r * 5) % V)] = 1;
    const teacher = randomTensor('float32', [rows, V], 9, 2).data as Float32Array;
    const feeds = (): Record<string, [Float32Array | BigInt64Array, readonly number[]]> => ({
      ...Object.fromEntries([...weights].map(([name, d]) => [name, [d, dims.get(name)!]])),
      [g.input]: input,
      [g.target!]: [target, [rows, V]],
      [g.teacher!]: [teacher, [rows, V]],
    });
    const out = await runner.run(feeds(), [g.loss!, ...g.grads.values()]);
    const lossAt = async () => (await runner.run(feeds(), [g.loss!])).get(g.loss!)![0]!;
    for (const [name, gradName] of g.grads) {
      const grad = out.get(gradName)!;
      const data = weights.get(name)!;
      let scale = 0;
      for (const x of grad) scale = Math.max(scale, Math.abs(x));
      expect(scale, `${name} has a gradient`).toBeGreaterThan(1e-4);
      // Every entry of small weights, a spread of entries of the larger ones.
      const step = Math.max(1, Math.floor(data.length / 24));
      for (let i = 0; i < data.length; i += step) {
        const h = 1e-2;
        const x0 = data[i]!;
        data[i] = x0 + h;
        const up = await lossAt();
        data[i] = x0 - h;
        const down = await lossAt();
        data[i] = x0;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(fd - grad[i]!), `${name}[${i}]: analytic ${grad[i]}, finite difference ${fd}`).toBeLessThan(5e-3 * scale + 5e-5);
      }
    }
  } finally {
    await runner.release();
  }
}

/** x [N, 5, D] → Gelu (exact or tanh) of a MatMul, Where(mask, ·, another MatMul) → MatMul → logits (opset 20). */
function geluWhere(approximate: 'none' | 'tanh'): Model {
  const b = new ModelBuilder({ opset: 20 });
  const x = b.input('x', 'float32', ['N', 5, D]);
  const h = b.node('Gelu', [b.node('MatMul', [x, b.initializer('w1', w([D, D], 11, 0.4))])], { approximate });
  const mask = new Tensor(
    'bool',
    [5, D],
    Uint8Array.from({ length: 5 * D }, (_, i) => (i % 3 === 0 ? 0 : 1)),
  );
  const m = b.node('Where', [b.initializer('mask', mask), h, b.node('MatMul', [x, b.initializer('w3', w([D, D], 14, 0.3))])]);
  b.output(b.node('MatMul', [m, b.initializer('w2', w([D, V], 12))]), 'logits', { dtype: 'float32' });
  return b.build();
}

describe('onnxruntime engine: transformer rules', () => {
  it('gradients of every weight equal central finite differences of the loss (both loss terms, [N, T, V] logits)', async () => {
    const ids = BigInt64Array.from({ length: 15 }, (_, i) => BigInt((i * 7 + 3) % V));
    await checkGradients(tinyLm(), [ids, [3, 5]], ['emb', 'head', 'ln.b', 'ln.g', 'wk', 'wq', 'wv']);
  }, 60_000);

  it('Gelu (exact and tanh) and Where masking: gradients equal finite differences', async () => {
    const x = randomTensor('float32', [3, 5, D], 13, 1).data as Float32Array;
    for (const approximate of ['none', 'tanh'] as const) await checkGradients(geluWhere(approximate), [x, [3, 5, D]], ['w1', 'w2', 'w3']);
  }, 60_000);
});

const gpt = randomGpt();

describe.skipIf(gpt.why !== undefined)(`distillLm on the torch.onnx GPT${gpt.why === undefined ? '' : ` (skipped: ${gpt.why})`}`, () => {
  it('trains every weight of the exported graph and lowers the loss towards the teacher', async () => {
    const teacher = await loadOnnx(join(gpt.dir, 'gpt.onnx'));
    // The student: the teacher with its head output weights perturbed (a stand-in for any compressed copy).
    const student = teacher.clone();
    for (const v of student.graph.initializers.values()) {
      const c = v.constValue;
      if (c?.dtype === 'float32' && c.dims.length === 2 && v.name.includes('MatMul')) {
        const noise = randomTensor('float32', [...c.dims], 3, 0.05).data as Float32Array;
        v.constValue = new Tensor(
          'float32',
          c.dims,
          (c.data as Float32Array).map((x, i) => x + noise[i]!),
        );
      }
    }
    const calib = readNpy(readFileSync(join(gpt.dir, 'calib', 'input_ids.npy')));
    const windows = { data: calib.data as BigInt64Array, count: 64, width: calib.shape[1]! };
    const losses: number[] = [];
    const { model, report } = await distillLm(teacher, student, windows, {
      epochs: 2,
      batchSize: 8,
      learningRate: 3e-3,
      alpha: 1,
      onProgress: (e) => losses.push(e.loss),
    });
    expect(report.steps).toBe(16);
    expect(report.trained).toContain('tok.weight');
    expect(report.trained).toContain('blocks.0.ln1.weight');
    expect(report.epochs[1]!.loss).toBeLessThan(report.epochs[0]!.loss);
    // The distilled model still runs as exported (dynamic batch and sequence) and scores held-out windows.
    const valid = readNpy(readFileSync(join(gpt.dir, 'valid', 'input_ids.npy')));
    const s = await createSession(writeOnnx(model));
    try {
      const r = await perplexity(
        async (ids, b, t) => (await s.run({ input_ids: new Tensor('int64', [b, t], ids) })).logits!.data as Float32Array,
        valid.data as BigInt64Array,
        4,
        valid.shape[1]!,
      );
      expect(Number.isFinite(r.perplexity)).toBe(true);
    } finally {
      await s.release();
    }
  }, 120_000);
});
