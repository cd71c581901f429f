import { ModelBuilder, Tensor, attr, toFloat32, type Model } from '@mc/ir';
import { randomTensor } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { finetune } from '../src/index.js';
import { randomData } from './fixtures.js';

/** x [N, 2, 4, 4] → BatchNormalization (ε = 1e-3, running stats far from the data's) → GlobalAveragePool → Flatten → MatMul. */
function bnModel(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 2, 4, 4]);
  const f = (v: number[]) => new Tensor('float32', [v.length], Float32Array.from(v));
  let h = b.node(
    'BatchNormalization',
    [
      x,
      b.initializer('g', f([1.5, 0.5])),
      b.initializer('b', f([0.1, -0.2])),
      b.initializer('m', f([3, -2])),
      b.initializer('v', f([9, 0.25])),
    ],
    { epsilon: attr.float(1e-3) },
  );
  h = b.node('GlobalAveragePool', [h]);
  h = b.node('Flatten', [h]);
  h = b.node('MatMul', [h, b.initializer('w', randomTensor('float32', [2, 3], 1, 0.5))]);
  b.output(h);
  return b.build();
}

/** Per-channel mean and unbiased variance of NCHW samples. */
function channelStats(x: Float32Array, n: number, c: number, hw: number): { mean: number[]; varUnbiased: number[] } {
  const mean: number[] = [];
  const varUnbiased: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) s += x[(i * c + ch) * hw + p]!;
    const m = s / (n * hw);
    let q = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) q += (x[(i * c + ch) * hw + p]! - m) ** 2;
    mean.push(m);
    varUnbiased.push(q / (n * hw - 1));
  }
  return { mean, varUnbiased };
}

describe('BatchNormalization in training (batch statistics, running-statistics update)', () => {
  const data = randomData([2, 4, 4], 16, 3, 7);
  const x = randomTensor('float32', [16 * 32], 7).data as Float32Array; // the samples randomData(…, 7) holds
  const { mean, varUnbiased } = channelStats(x, 16, 2, 16);
  const stat = (m: Model, name: string) => Array.from(toFloat32(m.graph.initializers.get(name)!.constValue!));

  it('one step moves the running mean/variance by the momentum towards the batch mean and unbiased variance', async () => {
    // One batch holding all 16 samples; a negligible learning rate so γ, β stay put.
    for (const momentum of [0, 0.9]) {
      const { model } = await finetune(bnModel(), data, { epochs: 1, batchSize: 16, learningRate: 1e-12, bnMomentum: momentum });
      const m0 = [3, -2];
      const v0 = [9, 0.25];
      stat(model, 'm').forEach((v, i) => expect(v).toBeCloseTo(m0[i]! * momentum + mean[i]! * (1 - momentum), 4));
      stat(model, 'v').forEach((v, i) => expect(v).toBeCloseTo(v0[i]! * momentum + varUnbiased[i]! * (1 - momentum), 4));
    }
    // Keras' default momentum 0.99 when neither the node nor the options set one.
    const { model } = await finetune(bnModel(), data, { epochs: 1, batchSize: 16, learningRate: 1e-12 });
    expect(stat(model, 'm')[0]).toBeCloseTo(3 * 0.99 + mean[0]! * 0.01, 4);
  });

  it("batchNorm: 'frozen' keeps the running statistics (inference-form training)", async () => {
    const { model } = await finetune(bnModel(), data, { epochs: 1, batchSize: 16, learningRate: 1e-3, batchNorm: 'frozen' });
    expect(stat(model, 'm')).toEqual([3, -2]);
    expect(stat(model, 'v')).toEqual([9, 0.25]);
    expect(stat(model, 'g')).not.toEqual([1.5, 0.5]);
  });

  it('the loss is computed on batch-normalised activations: far-off running statistics do not derail training', async () => {
    // With frozen statistics (m = 3, v = 9 against data of mean ≈ 0, var ≈ 1/3) channel 1 is scaled by 1/√0.25 of
    // the wrong centre; with batch statistics the first step's loss does not depend on the running statistics.
    const losses: number[][] = [];
    for (const stats of [
      [3, -2, 9, 0.25],
      [0, 0, 1, 1],
    ]) {
      const m = bnModel();
      const set = (n: string, v: number[]) => (m.graph.initializers.get(n)!.constValue = new Tensor('float32', [2], Float32Array.from(v)));
      set('m', stats.slice(0, 2));
      set('v', stats.slice(2));
      const l: number[] = [];
      await finetune(m, data, { epochs: 1, batchSize: 16, learningRate: 1e-12, onProgress: (e) => e.type === 'step' && l.push(e.loss) });
      losses.push(l);
    }
    expect(losses[0]![0]).toBeCloseTo(losses[1]![0]!, 5);
  });
});
