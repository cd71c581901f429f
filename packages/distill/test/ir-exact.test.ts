import { existsSync } from 'node:fs';
import { loadOnnx } from '@mc/io-onnx';
import { Tensor, type Model } from '@mc/ir';
import { randomFeeds, randomTensor } from '@mc/ir/testing';
import { createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { finetune, predict } from '../src/index.js';
import { branchyModel, cnnModel, randomData } from './fixtures.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

async function maxDiff(model: Model, dims: number[], seed: number): Promise<number> {
  const x = randomTensor('float32', dims, seed).data as Float32Array;
  const s = await createSession(model, { graphOptimizationLevel: 'disabled' });
  const ort = Object.values(await s.run({ [s.inputNames[0]!]: new Tensor('float32', dims, x) }))[0]!;
  await s.release();
  const ours = await predict(model, x, dims);
  expect(ours.dims).toEqual([...ort.dims]);
  let d = 0;
  const od = ort.data as Float32Array;
  for (let i = 0; i < od.length; i++) d = Math.max(d, Math.abs(od[i]! - ours.data[i]!));
  return d;
}

describe('IR → tfjs → IR is exact against onnxruntime-node', () => {
  for (const [name, make, shape] of [
    ['cnn (pads, strides, groups, BN, pools, Clip, Gemm, MatMul, Softmax)', () => cnnModel(), [3, 9, 9]],
    ['cnn at opset 11 (Softmax flattening semantics)', () => cnnModel(11), [3, 9, 9]],
    ['branchy (Transpose in, Concat, GlobalAveragePool, Reshape, Sub)', () => branchyModel(), [8, 8, 2]],
  ] as const) {
    it(`${name}: max |ORT − tfjs| ≤ 1e-4 before and after training; graph untouched`, async () => {
      const model = make();
      expect(await maxDiff(model, [4, ...shape], 1)).toBeLessThanOrEqual(1e-4);
      const data = randomData([...shape], 48, name.startsWith('branchy') ? 4 : 5, 3);
      const before = new Map([...model.graph.initializers].map(([k, v]) => [k, v.constValue]));
      const { model: trained, report } = await finetune(model, data, { epochs: 2, batchSize: 16, learningRate: 0.05, seed: 1 });
      // Input model untouched; trained model differs only in initializer values.
      for (const [k, v] of model.graph.initializers) expect(v.constValue).toBe(before.get(k));
      expect(trained.graph.nodes.map((n) => n.opType)).toEqual(model.graph.nodes.map((n) => n.opType));
      expect(report.trained.length).toBeGreaterThan(3);
      const changed = report.trained.filter((k) => trained.graph.initializers.get(k)!.constValue !== before.get(k));
      expect(changed.length).toBe(report.trained.length);
      expect(report.epochs.length).toBe(2);
      expect(await maxDiff(trained, [4, ...shape], 2)).toBeLessThanOrEqual(1e-4);
    });
  }
});

const realDir = sharedPath('models/onnx/');
describe.skipIf(!existsSync(realDir))(
  `real models from ../shared/models/onnx run identically in tfjs and ORT${skipNote(sharedAbsent('models/onnx'))}`,
  () => {
    for (const f of [
      'hls4ml_conv1d_small_keras.onnx',
      'hls4ml_conv2d_small_mp_keras.onnx',
      'hls4ml_three_layer_keras.onnx',
      'mnist-cntk-opset8.onnx',
      'ultraface-version-RFB-320.onnx',
    ]) {
      it(`${f}: max |ORT − tfjs| ≤ 1e-4`, async () => {
        const model = await loadOnnx(`${realDir}${f}`);
        const x = Object.values(randomFeeds(model, 1, { dynamicDim: 2 }))[0]!;
        expect(await maxDiff(model, [...x.dims], 1)).toBeLessThanOrEqual(1e-4);
      });
    }
  },
);
