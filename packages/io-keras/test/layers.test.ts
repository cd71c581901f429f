import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { writeOnnx } from '@mc/io-onnx';
import { afterAll, describe, expect, test } from 'vitest';
import { readKeras, saveKeras } from '../src/index.js';
import { relErr, seeded } from './helpers.js';

tf.env().set('PROD', true);
await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-layers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Gives every weight seeded values (variances positive) so no layer hides behind a zero/one init. */
function randomize(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const ws = layer.weights;
    if (ws.length === 0) continue;
    layer.setWeights(
      ws.map((w) => {
        const n = w.shape.reduce((a, b) => a * (b ?? 1), 1);
        const positive = /variance/.test(w.originalName);
        return tf.tensor(seeded(n, s++, positive ? 0.5 : -0.5, positive ? 1.5 : 0.5), w.shape as number[]);
      }),
    );
  }
}

/** Saves a tfjs model as TF.js layers files (tfjs' own serializer), returns the model.json path. */
async function saveTfjs(model: tf.LayersModel, name: string): Promise<string> {
  const path = join(dir, `${name}.json`);
  await model.save(
    tf.io.withSaveHandler(async (art) => {
      const data = Array.isArray(art.weightData) ? Buffer.concat(art.weightData.map((b) => Buffer.from(b))) : Buffer.from(art.weightData!);
      writeFileSync(join(dir, `${name}.bin`), data);
      writeFileSync(
        path,
        JSON.stringify({ modelTopology: art.modelTopology, weightsManifest: [{ paths: [`${name}.bin`], weights: art.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return path;
}

type Feed = { data: Float32Array | Int32Array; dims: number[] };

async function compare(model: tf.LayersModel, name: string, feeds: Feed[], tol = 1e-4): Promise<void> {
  randomize(model, 100);
  const path = await saveTfjs(model, name);
  const r = await readKeras(path);
  expect(r.passedThrough).toEqual([]);
  const ref = tf.tidy(() => {
    const y = model.predict(feeds.map((f) => tf.tensor(f.data, f.dims, f.data instanceof Int32Array ? 'int32' : 'float32')));
    return (Array.isArray(y) ? y : [y]).map((t) => t.dataSync() as Float32Array);
  });
  const session = await ort.InferenceSession.create(writeOnnx(r.model), { graphOptimizationLevel: 'disabled' });
  const f: Record<string, ort.Tensor> = {};
  r.model.graph.inputs.forEach((v, i) => {
    const d = feeds[i]!;
    f[v.name] =
      v.dtype === 'int32'
        ? new ort.Tensor('int32', Int32Array.from(d.data), d.dims)
        : new ort.Tensor('float32', Float32Array.from(d.data), d.dims);
  });
  const out = await session.run(f);
  r.model.graph.outputs.forEach((o, i) =>
    expect(relErr(out[o.name]!.data as Float32Array, ref[i]!), `${name} output ${i}`).toBeLessThanOrEqual(tol),
  );
  // And back to TF.js: tfjs-layers loads what we write, same outputs.
  const back = join(dir, `${name}_back.json`);
  await saveKeras(r.model, back);
  const again = await readKeras(back);
  const s2 = await ort.InferenceSession.create(writeOnnx(again.model), { graphOptimizationLevel: 'disabled' });
  const out2 = await s2.run(f);
  again.model.graph.outputs.forEach((o, i) => expect(relErr(out2[o.name]!.data as Float32Array, ref[i]!)).toBeLessThanOrEqual(tol));
}

const img = (n: number, h: number, w: number, c: number, seed = 1): Feed => ({
  data: seeded(n * h * w * c, seed, -1, 1),
  dims: [n, h, w, c],
});

describe('each mapped layer against tfjs-layers (built and saved by tfjs, run in ORT; ≤ 1e-4 of output scale)', () => {
  test('conv family: ZeroPadding2D, Conv2D same/relu, SeparableConv2D, BatchNormalization, LeakyReLU, DepthwiseConv2D, Conv2DTranspose, Cropping2D, UpSampling2D, Max/AveragePooling2D same, ELU, GlobalAveragePooling2D, Dense softmax', async () => {
    const m = tf.sequential();
    m.add(tf.layers.zeroPadding2d({ padding: 1, inputShape: [9, 9, 3] }));
    m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2 }));
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.leakyReLU({ alpha: 0.1 }));
    m.add(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2, strides: 2 }));
    m.add(tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }));
    m.add(
      tf.layers.cropping2D({
        cropping: [
          [1, 1],
          [2, 0],
        ],
      }),
    );
    m.add(tf.layers.upSampling2d({ size: [2, 2] }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }));
    m.add(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }));
    m.add(tf.layers.elu());
    m.add(tf.layers.globalAveragePooling2d({}));
    m.add(tf.layers.dense({ units: 4, activation: 'softmax' }));
    await compare(m, 'conv_family', [img(2, 9, 9, 3)]);
  });

  test('1-D and reshaping: Conv1D same dilated, MaxPooling1D, LayerNormalization, Permute, Reshape, Conv2DTranspose valid, GlobalMaxPooling1D, Softmax, ReLU(max 6), PReLU, Flatten', async () => {
    const x = tf.input({ shape: [10, 4] });
    let y = tf.layers.conv1d({ filters: 6, kernelSize: 3, padding: 'same', dilationRate: 2 }).apply(x) as tf.SymbolicTensor;
    y = tf.layers.maxPooling1d({ poolSize: 2 }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.layerNormalization({}).apply(y) as tf.SymbolicTensor;
    const a = tf.layers.globalMaxPooling1d({}).apply(y) as tf.SymbolicTensor;
    y = tf.layers.permute({ dims: [2, 1] }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.reshape({ targetShape: [6, 5, 1] }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.conv2dTranspose({ filters: 2, kernelSize: [2, 3], strides: [1, 2], padding: 'valid' }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.reLU({ maxValue: 6 }).apply(y) as tf.SymbolicTensor;
    y = tf.layers.prelu({}).apply(y) as tf.SymbolicTensor;
    y = tf.layers.flatten().apply(y) as tf.SymbolicTensor;
    const b = tf.layers.softmax({}).apply(tf.layers.dense({ units: 3 }).apply(y) as tf.SymbolicTensor) as tf.SymbolicTensor;
    await compare(tf.model({ inputs: x, outputs: [a, b] }), 'seq1d', [{ data: seeded(2 * 40, 3, -1, 1), dims: [2, 10, 4] }]);
  });

  test('Functional: two inputs, a shared Dense called twice, Add/Multiply/Average/Maximum/Minimum/Concatenate, two outputs', async () => {
    const a = tf.input({ shape: [8] });
    const b = tf.input({ shape: [8] });
    const shared = tf.layers.dense({ units: 6, activation: 'tanh' });
    const sa = shared.apply(a) as tf.SymbolicTensor;
    const sb = shared.apply(b) as tf.SymbolicTensor;
    const parts = [
      tf.layers.add().apply([sa, sb]),
      tf.layers.multiply().apply([sa, sb]),
      tf.layers.average().apply([sa, sb]),
      tf.layers.maximum().apply([sa, sb]),
      tf.layers.minimum().apply([sa, sb]),
    ] as tf.SymbolicTensor[];
    const cat = tf.layers.concatenate({ axis: -1 }).apply(parts) as tf.SymbolicTensor;
    const o1 = tf.layers.dense({ units: 3, activation: 'sigmoid' }).apply(cat) as tf.SymbolicTensor;
    const o2 = tf.layers.dense({ units: 2 }).apply(sb) as tf.SymbolicTensor;
    await compare(tf.model({ inputs: [a, b], outputs: [o1, o2] }), 'functional', [
      { data: seeded(16, 5, -1, 1), dims: [2, 8] },
      { data: seeded(16, 6, -1, 1), dims: [2, 8] },
    ]);
  });

  test('nested model: a Sequential used as a layer inside a Functional model', async () => {
    const inner = tf.sequential({
      layers: [tf.layers.dense({ units: 6, activation: 'relu', inputShape: [5] }), tf.layers.dense({ units: 4 })],
    });
    const x = tf.input({ shape: [7] });
    const h = tf.layers.dense({ units: 5, activation: 'elu' }).apply(x) as tf.SymbolicTensor;
    const y = tf.layers.activation({ activation: 'softmax' }).apply(inner.apply(h) as tf.SymbolicTensor) as tf.SymbolicTensor;
    await compare(tf.model({ inputs: x, outputs: y }), 'nested', [{ data: seeded(14, 8, -1, 1), dims: [2, 7] }]);
  });

  test('Embedding (int32 indices) + Flatten + Dense', async () => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputDim: 20, outputDim: 4, inputLength: 5 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 2 }));
    await compare(m, 'embedding', [{ data: Int32Array.from([1, 5, 19, 0, 7, 3, 3, 12, 8, 2]), dims: [2, 5] }]);
  });

  for (const act of [
    'relu6',
    'selu',
    'softplus',
    'softsign',
    'hardSigmoid',
    'swish',
    'mish',
    'gelu',
    'elu',
    'tanh',
    'sigmoid',
    'linear',
    'logSoftmax',
  ] as const) {
    test(`Dense activation '${act}'`, async () => {
      const m = tf.sequential();
      m.add(tf.layers.dense({ units: 5, activation: act as never, inputShape: [6] }));
      await compare(m, `act_${act}`, [{ data: seeded(12, 9, -3, 3), dims: [2, 6] }]);
    });
  }
});
