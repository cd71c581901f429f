import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadOnnx } from '@mc/io-onnx';
import { inferShapes, McError, ModelBuilder, Tensor } from '@mc/ir';
import { writeOnnx } from '@mc/io-onnx';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { readKeras, saveKeras } from '../src/index.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';
import { argmax, mnistTest, relErr } from './helpers.js';

// ONNX models from other exporters (no keras.layer tags) written as standard Keras layers, checked in tfjs-layers
// (an implementation independent of mc) against onnxruntime-node on the original file.
const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-onnx-'));
const cntk = 'models/onnx/mnist-cntk-opset8.onnx';
const why = sharedAbsent(cntk, 'data/mnist');

async function tfjsFromJson(file: string): Promise<tf.LayersModel> {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  const specs = json.weightsManifest[0].weights;
  const bin = readFileSync(join(dir, json.weightsManifest[0].paths[0]));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

describe.skipIf(why !== undefined)(`the CNTK MNIST CNN (NCHW, Conv + Add bias, MaxPool, Reshape, MatMul)${skipNote(why)}`, () => {
  test('written as model.json: Permute → Conv2D → MaxPooling2D ... → Dense; tfjs-layers = onnxruntime on 200 real images (≤ 1e-5), same top-1', async () => {
    const model = await loadOnnx(sharedPath(cntk));
    const out = join(dir, 'cntk.json');
    const r = await saveKeras(model, out);
    expect(r.layers.map((l) => l.className)).toEqual([
      'InputLayer',
      'Permute',
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'MaxPooling2D',
      'Flatten',
      'Dense',
    ]);
    const m = await tfjsFromJson(out);
    const n = 200;
    const { x } = mnistTest(n);
    const raw = x.map((v) => v * 255); // the model was trained on 0-255 pixels
    const got = (m.predict(tf.tensor(raw, [n, 1, 28, 28])) as tf.Tensor).dataSync() as Float32Array;
    const s = await ort.InferenceSession.create(sharedPath(cntk));
    const want = new Float32Array(n * 10);
    for (let i = 0; i < n; i++) {
      const o = await s.run({ Input3: new ort.Tensor('float32', raw.slice(i * 784, (i + 1) * 784), [1, 1, 28, 28]) });
      want.set(o.Plus214_Output_0!.data as Float32Array, i * 10);
    }
    expect(relErr(got, want)).toBeLessThanOrEqual(1e-5);
    for (let i = 0; i < n; i++) expect(argmax(got, i * 10, 10)).toBe(argmax(want, i * 10, 10));
  });

  test('written as .h5 and read back by mc: the same layers and outputs (≤ 1e-5 of scale)', async () => {
    const model = await loadOnnx(sharedPath(cntk));
    const h5 = join(dir, 'cntk.h5');
    await saveKeras(model, h5);
    const back = await readKeras(h5);
    const feeds = new Float32Array(784).map((_, i) => (i * 37) % 255);
    const a = await (await ort.InferenceSession.create(sharedPath(cntk))).run({ Input3: new ort.Tensor('float32', feeds, [1, 1, 28, 28]) });
    const { writeOnnx } = await import('@mc/io-onnx');
    const sb = await ort.InferenceSession.create(writeOnnx(back.model));
    const b = await sb.run({ [sb.inputNames[0]!]: new ort.Tensor('float32', feeds, [1, 1, 28, 28]) });
    expect(relErr(b[sb.outputNames[0]!]!.data as Float32Array, a.Plus214_Output_0!.data as Float32Array)).toBeLessThanOrEqual(1e-5);
  });
});

describe('the other standard ops, in a synthetic NCHW chain (no Keras tags)', () => {
  // Conv (bias, stride, padding) → BatchNormalization → Relu → AveragePool → Conv → Sigmoid → MaxPool → Flatten →
  // Gemm (transB) → Tanh → Elu → Gemm → Softmax, and a GlobalAveragePool head: every layer kind foreignToKeras writes.
  let seed = 7;
  const rand = (n: number, scale = 0.5) =>
    Float32Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return (seed / 2 ** 31 - 0.5) * 2 * scale;
    });
  const t = (b: ModelBuilder, name: string, dims: number[], data = rand(dims.reduce((a, c) => a * c, 1))) =>
    b.initializer(name, new Tensor('float32', dims, data));
  function chain(head: 'dense' | 'global') {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 3, 12, 12]);
    let y = b.node('Conv', [x, t(b, 'w1', [4, 3, 3, 3]), t(b, 'b1', [4])], { pads: [1, 1, 1, 1], strides: [1, 1] }, { name: 'conv1' });
    const var1 = Float32Array.from(rand(4), (v) => 0.5 + Math.abs(v));
    y = b.node(
      'BatchNormalization',
      [y, t(b, 's', [4]), t(b, 'bb', [4]), t(b, 'm', [4]), t(b, 'v', [4], var1)],
      { epsilon: 1e-3 },
      { name: 'bn' },
    );
    y = b.node('Relu', [y], {}, { name: 'relu' });
    y = b.node('AveragePool', [y], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'avg' });
    y = b.node('Conv', [y, t(b, 'w2', [5, 4, 3, 3])], { strides: [1, 1] }, { name: 'conv2' });
    y = b.node('Sigmoid', [y], {}, { name: 'sig' });
    if (head === 'global') {
      y = b.node('GlobalAveragePool', [y], {}, { name: 'gap' });
      y = b.node('Flatten', [y], { axis: 1 }, { name: 'flat' });
    } else {
      y = b.node('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] }, { name: 'max' });
      y = b.node('Flatten', [y], { axis: 1 }, { name: 'flat' });
      y = b.node('Gemm', [y, t(b, 'g1', [6, 5 * 2 * 2]), t(b, 'c1', [6])], { transB: 1 }, { name: 'fc1' });
      y = b.node('Tanh', [y], {}, { name: 'tanh' });
      y = b.node('Elu', [y], {}, { name: 'elu' });
    }
    y = b.node('Gemm', [y, t(b, 'g2', [head === 'global' ? 5 : 6, 3]), t(b, 'c2', [3])], {}, { name: 'fc2' });
    b.output(b.node('Softmax', [y], { axis: -1 }, { name: 'softmax' }), 'probs');
    const model = b.build();
    inferShapes(model);
    return model;
  }

  test.each([
    // An activation right after a Conv or Dense becomes that layer's `activation`; others are Activation layers.
    [
      'dense',
      [
        'InputLayer',
        'Permute',
        'Conv2D',
        'BatchNormalization',
        'Activation',
        'AveragePooling2D',
        'Conv2D',
        'MaxPooling2D',
        'Flatten',
        'Dense',
        'Activation',
        'Dense',
      ],
    ],
    [
      'global',
      [
        'InputLayer',
        'Permute',
        'Conv2D',
        'BatchNormalization',
        'Activation',
        'AveragePooling2D',
        'Conv2D',
        'GlobalAveragePooling2D',
        'Dense',
      ],
    ],
  ] as const)('%s head: tfjs-layers on the model.json = onnxruntime on the ONNX (≤ 1e-5) on 8 random inputs', async (head, classes) => {
    const model = chain(head);
    const out = join(dir, `chain-${head}.json`);
    const r = await saveKeras(model, out);
    expect(r.layers.map((l) => l.className)).toEqual(classes);
    const m = await tfjsFromJson(out);
    const s = await ort.InferenceSession.create(writeOnnx(model));
    for (let i = 0; i < 8; i++) {
      const x = rand(3 * 12 * 12, 2);
      const got = (m.predict(tf.tensor(x, [1, 3, 12, 12])) as tf.Tensor).dataSync() as Float32Array;
      const want = (await s.run({ x: new ort.Tensor('float32', x, [1, 3, 12, 12]) })).probs!.data as Float32Array;
      expect(relErr(got, want), `input ${i}`).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('precise refusals, one node named each', () => {
  const base = () => {
    const b = new ModelBuilder({ opset: 17 });
    return { b, x: b.input('x', 'float32', [1, 3, 8, 8]) };
  };
  test.each([
    [
      'an op with no Keras layer (Transpose)',
      () => {
        const { b, x } = base();
        b.output(b.node('Transpose', [x], { perm: [0, 2, 3, 1] }, { name: 'tr' }));
        return b.build();
      },
      /node 'tr' \(Transpose\) cannot be written as a Keras layer: Transpose has no Keras layer mc writes/,
    ],
    [
      'a branch (Add of two runtime tensors)',
      () => {
        const { b, x } = base();
        const r = b.node('Relu', [x], {}, { name: 'r' });
        b.output(b.node('Add', [r, x], {}, { name: 'skip' }));
        return b.build();
      },
      /node 'skip' \(Add\) .*2 runtime inputs; only chains are written/,
    ],
    [
      'a grouped Conv',
      () => {
        const { b, x } = base();
        const w = b.initializer('w', new Tensor('float32', [3, 1, 3, 3], new Float32Array(27).fill(0.1)));
        b.output(b.node('Conv', [x, w], { group: 3 }, { name: 'dw' }));
        return b.build();
      },
      /node 'dw' \(Conv\) .*grouped convolutions are not written yet/,
    ],
  ])('%s: E_UNSUPPORTED naming the node, the op and why; nothing written', async (_what, make, message) => {
    const file = join(dir, 'refused.h5');
    const e = await saveKeras(make(), file).catch((x: unknown) => x);
    expect(McError.is(e) && e.code).toBe('E_UNSUPPORTED');
    expect((e as Error).message).toMatch(message);
    expect((e as Error).message).toContain('export it as ONNX instead');
  });
});
