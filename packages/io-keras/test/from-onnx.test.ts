import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadOnnx } from '@mc/io-onnx';
import { McError, ModelBuilder, Tensor } from '@mc/ir';
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
