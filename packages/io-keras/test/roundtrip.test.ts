import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Node, Tensor } from '@mc/ir';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, test } from 'vitest';
import { KERAS_LAYER_KEY, readKeras, saveKeras } from '../src/index.js';
import { readKerasZipConfig } from '../src/read-keras-zip.js';
import { KERAS_DIR, relErr, runOrt, seeded, SHARED, SKIP_SHARED, SHARED_NOTE } from './helpers.js';
import { originalConfig, tfjsModel, tfjsRun } from './tfjs-reference.js';
import { sharedAbsent, skipNote } from '../../../test-support/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-rt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PY = '/usr/bin/python3';
const HAVE_H5PY = (() => {
  try {
    execFileSync(PY, ['-c', 'import h5py'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

function feeds(model: Awaited<ReturnType<typeof readKeras>>['model'], seed = 3): { name: string; x: Float32Array; dims: number[] } {
  const input = model.graph.inputs[0]!;
  const dims = [2, ...input.shape!.slice(1).map(Number)];
  return {
    name: input.name,
    x: seeded(
      dims.reduce((a, b) => a * b, 1),
      seed,
    ),
    dims,
  };
}

async function ortOut(model: Awaited<ReturnType<typeof readKeras>>['model'], f: ReturnType<typeof feeds>): Promise<Float32Array[]> {
  const o = await runOrt(model, { [f.name]: { data: f.x, dims: f.dims } });
  return model.graph.outputs.map((v) => o[v.name]!.data);
}

describe.skipIf(SKIP_SHARED !== false)(`round trips load back with standard layers and identical outputs${SHARED_NOTE}`, () => {
  for (const [label, file] of [
    ['Sequential LeNet (Keras 2.1.6)', 'tensorspace/lenet_mnist.h5'],
    ['Functional ResNet8 (residual Add)', 'mlperf-tiny/resnet8_cifar10.h5'],
  ] as const) {
    test(`h5 → IR → h5: ${label}`, async () => {
      const a = await readKeras(`${KERAS_DIR}${file}`);
      const out = join(dir, file.replace(/\W/g, '_') + '.h5');
      const res = await saveKeras(a.model, out);
      expect(res.files).toEqual([out]);
      const b = await readKeras(out);
      const f = feeds(a.model);
      const [oa, ob] = [await ortOut(a.model, f), await ortOut(b.model, f)];
      oa.forEach((o, i) => expect(Array.from(ob[i]!)).toEqual(Array.from(o)));
      // tfjs-layers reads the written model_config and weights: identical to tfjs on the original.
      const ta = tfjsRun(await tfjsModel(await originalConfig(`${KERAS_DIR}${file}`), a.keras), f.x, f.dims);
      const tb = tfjsRun(await tfjsModel(await originalConfig(out), b.keras), f.x, f.dims);
      ta.forEach((o, i) => expect(Array.from(tb[i]!)).toEqual(Array.from(o)));
      expect(b.keras.layers.map((l) => l.className)).toEqual(a.keras.layers.map((l) => l.className));
    });
  }

  test.skipIf(!HAVE_H5PY)('h5py opens our h5 with the attributes Keras expects', async () => {
    const a = await readKeras(`${KERAS_DIR}mlperf-tiny/resnet8_cifar10.h5`);
    const out = join(dir, 'h5py_check.h5');
    await saveKeras(a.model, out);
    const script = `
import h5py, json, sys
f = h5py.File(sys.argv[1], 'r')
cfg = json.loads(f.attrs['model_config'])
mw = f['model_weights']
names = [n.decode() for n in mw.attrs['layer_names']]
wn = [n.decode() for n in mw['conv2d'].attrs['weight_names']]
k = mw['conv2d'][wn[0]]
print(json.dumps({'keras_version': f.attrs['keras_version'], 'backend': f.attrs['backend'], 'class': cfg['class_name'], 'n': len(names), 'wn': wn, 'shape': list(k.shape), 'dtype': str(k.dtype), 'empty': len(mw['add'].attrs['weight_names'])}))
`;
    const r = JSON.parse(execFileSync(PY, ['-c', script, out], { encoding: 'utf8' }));
    expect(r).toEqual({
      keras_version: '2.4.0',
      backend: 'tensorflow',
      class: 'Model',
      n: a.keras.layers.length,
      wn: ['conv2d/kernel:0', 'conv2d/bias:0'],
      shape: [3, 3, 3, 16],
      dtype: 'float32',
      empty: 0,
    });
  });
  if (!HAVE_H5PY) test.skip('h5py check (skipped: Debian python3-h5py is not installed; apt-get install python3-h5py)', () => {});

  test('.keras → IR → .keras: Keras 3 simple convnet', async () => {
    const a = await readKeras(`${KERAS_DIR}moonflower/mnist_convnet.keras`);
    const out = join(dir, 'convnet.keras');
    await saveKeras(a.model, out);
    const b = await readKeras(out);
    expect(b.format).toBe('keras');
    const f = feeds(a.model);
    const [oa, ob] = [await ortOut(a.model, f), await ortOut(b.model, f)];
    expect(Array.from(ob[0]!)).toEqual(Array.from(oa[0]!));
    const cfg = readKerasZipConfig(out) as { class_name: string; config: { layers: { class_name: string; module: string }[] } };
    expect(cfg.class_name).toBe('Sequential');
    expect(cfg.config.layers.map((l) => l.class_name)).toEqual([
      'InputLayer',
      'Conv2D',
      'MaxPooling2D',
      'Conv2D',
      'MaxPooling2D',
      'Flatten',
      'Dropout',
      'Dense',
    ]);
    expect(cfg.config.layers.every((l) => l.module === 'keras.layers')).toBe(true);
  });

  test('Functional h5 → IR → .keras → IR: ResNet8 as a Keras 3 Functional config, identical outputs', async () => {
    const a = await readKeras(`${KERAS_DIR}mlperf-tiny/resnet8_cifar10.h5`);
    const out = join(dir, 'resnet8.keras');
    await saveKeras(a.model, out);
    const cfg = readKerasZipConfig(out) as { class_name: string; config: { layers: { inbound_nodes: unknown[] }[] } };
    expect(cfg.class_name).toBe('Functional');
    // Keras 3 tensor references carry the channels-last shape (KerasTensor needs one).
    expect(JSON.stringify(cfg.config.layers[1]!.inbound_nodes)).toContain('"shape":[null,32,32,3]');
    const b = await readKeras(out);
    const f = feeds(a.model);
    const [oa, ob] = [await ortOut(a.model, f), await ortOut(b.model, f)];
    expect(Array.from(ob[0]!)).toEqual(Array.from(oa[0]!));
  });

  test('.keras → IR → .keras keeps QKeras layers verbatim (config, module, registered_name, weights)', async () => {
    const src = `${KERAS_DIR}hls4ml/qkeras-v3_3layer.keras`;
    const a = await readKeras(src);
    const out = join(dir, 'qkeras.keras');
    await saveKeras(a.model, out);
    const b = await readKeras(out);
    expect(b.passedThrough).toEqual(a.passedThrough);
    const orig = readKerasZipConfig(src) as { config: { layers: Record<string, unknown>[] } };
    const back = readKerasZipConfig(out) as { config: { layers: Record<string, unknown>[] } };
    const pick = (l: Record<string, unknown>): unknown => ({ c: l.class_name, m: l.module, r: l.registered_name, cfg: l.config });
    expect(back.config.layers.map(pick)).toEqual(orig.config.layers.map(pick));
    b.keras.layers.forEach((l, i) =>
      l.weights.forEach((w, j) =>
        expect(Array.from(w.data as Float32Array)).toEqual(Array.from(a.keras.layers[i]!.weights[j]!.data as Float32Array)),
      ),
    );
  });

  test('model.json → IR → model.json: tfjs-layers loads the written files (7 outputs) with identical outputs', async () => {
    const src = `${KERAS_DIR}tfjs/tensorspace_lenet_mnist_layers/model.json`;
    const a = await readKeras(src);
    const out = join(dir, 'lenet.json');
    const res = await saveKeras(a.model, out);
    expect(res.files.map((p) => p.split('/').pop())).toEqual(['lenet.json', 'lenet.weights.bin']);
    const loaded = await loadTfjs(out);
    const ref = await loadTfjs(src);
    const f = feeds(a.model);
    const [x, y] = [tfjsRun(loaded, f.x, f.dims), tfjsRun(ref, f.x, f.dims)];
    expect(x.length).toBe(7);
    x.forEach((o, i) => expect(Array.from(o)).toEqual(Array.from(y[i]!)));
    const ours = await ortOut((await readKeras(out)).model, f);
    ours.forEach((o, i) => expect(relErr(o, y[i]!)).toBeLessThanOrEqual(1e-4));
  });

  test('model.json with uint8 weight specs: tfjs-layers loads it; mc reads back the same dequantized weights (top-1 kept)', async () => {
    const a = await readKeras(`${KERAS_DIR}tfjs/tensorspace_lenet_mnist_layers/model.json`);
    const out = join(dir, 'lenet_q8.json');
    await saveKeras(a.model, out, { tfjsQuantize: 'uint8' });
    const manifest = JSON.parse(readFileSync(out, 'utf8')).weightsManifest[0].weights as { quantization?: { dtype: string } }[];
    expect(manifest.every((w) => w.quantization?.dtype === 'uint8')).toBe(true);
    const q = await loadTfjs(out);
    const f = feeds(a.model);
    const tq = tfjsRun(q, f.x, f.dims);
    const back = await readKeras(out);
    const ob = await ortOut(back.model, f);
    ob.forEach((o, i) => expect(relErr(o, tq[i]!)).toBeLessThanOrEqual(1e-4));
    // The weights mc reads back are the uint8 codes dequantized: within half a step of the float originals.
    const k0 = a.keras.layers.find((l) => l.name === 'Dense_1')!.weights[0]!.data as Float32Array;
    const k1 = back.keras.layers.find((l) => l.name === 'Dense_1')!.weights[0]!.data as Float32Array;
    const spec = JSON.parse(readFileSync(out, 'utf8')).weightsManifest[0].weights.find(
      (w: { name: string }) => w.name === 'Dense_1/kernel',
    ).quantization;
    expect(relErr(k1, k0)).toBeLessThanOrEqual(spec.scale);
    expect(Math.max(...k0.map((v, i) => Math.abs(v - k1[i]!)))).toBeLessThanOrEqual(spec.scale / 2 + 1e-7);
  });
});

describe.skipIf(SKIP_SHARED !== false)(`other sources and weight specs${SHARED_NOTE}`, () => {
  test('in-memory files (TF.js model.json + shard) read the same as from disk', async () => {
    const d = `${KERAS_DIR}tfjs/tensorspace_lenet_mnist_layers/`;
    const a = await readKeras(`${d}model.json`);
    const b = await readKeras({
      files: { 'model.json': readFileSync(`${d}model.json`), 'group1-shard1of1': readFileSync(`${d}group1-shard1of1`) },
      main: 'model.json',
    });
    const f = feeds(a.model);
    expect(await ortOut(b.model, f)).toEqual(await ortOut(a.model, f));
  });

  test('model.json with float16 weight specs: tfjs-layers loads it, mc reads it back (= tfjs ≤ 1e-4, fp16 weights vs fp32 ≤ 1e-2)', async () => {
    const a = await readKeras(`${KERAS_DIR}mlperf-tiny/resnet8_cifar10.h5`);
    const out = join(dir, 'resnet8_f16.json');
    await saveKeras(a.model, out, { tfjsQuantize: 'float16' });
    const f = feeds(a.model);
    const t = tfjsRun(await loadTfjs(out), f.x, f.dims)[0]!;
    const ours = (await ortOut((await readKeras(out)).model, f))[0]!;
    const ref = (await ortOut(a.model, f))[0]!;
    expect(relErr(ours, t)).toBeLessThanOrEqual(1e-4);
    expect(relErr(ours, ref)).toBeLessThanOrEqual(1e-2);
  });
});

describe.skipIf(SKIP_SHARED !== false)(`writing transformed models uses standard layers only${SHARED_NOTE}`, () => {
  test('factorised Dense (MatMul → MatMul, first without bias) becomes two Dense layers: tfjs = ORT to 1e-5', async () => {
    const a = await readKeras({
      architecture: `${KERAS_DIR}hls4ml/KERAS_3layer.json`,
      weights: `${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5`,
    });
    const g = a.model.graph;
    const mm = g.nodes.find((n) => n.opType === 'MatMul' && n.metadataProps.get(KERAS_LAYER_KEY)?.includes('"fc1_relu"'))!;
    // What a low-rank pass does: x·W ≈ (x·U)·V with U [16, 4], V [4, 64]; the new node carries no tag.
    const u = g.addInitializer('fc1_relu/U', new Tensor('float32', [16, 4], seeded(64, 11, -0.5, 0.5)));
    const v = g.addInitializer('fc1_relu/V', new Tensor('float32', [4, 64], seeded(256, 12, -0.5, 0.5)));
    const first = new Node({ opType: 'MatMul', name: 'fc1_relu/lowrank_u', inputs: [mm.inputs[0], u], outputs: ['fc1_relu_u'] });
    g.insertBefore(mm, first);
    mm.replaceInput(0, first.outputs[0]);
    mm.replaceInput(1, v);
    g.removeUnusedInitializers();
    const out = join(dir, 'factorised.h5');
    const res = await saveKeras(a.model, out);
    expect(res.layers.map((l) => `${l.className}:${l.name}`).slice(0, 3)).toEqual([
      'InputLayer:input_1',
      'Dense:fc1_relu_factor',
      'Dense:fc1_relu',
    ]);
    const b = await readKeras(out);
    const fc = b.keras.layers.find((l) => l.name === 'fc1_relu_factor')!;
    expect(fc.config).toMatchObject({ units: 4, use_bias: false, activation: 'linear' });
    const f = feeds(a.model);
    const ref = (await ortOut(a.model, f))[0]!;
    const t = tfjsRun(await tfjsModel(await originalConfig(out), b.keras), f.x, f.dims)[0]!;
    expect(relErr(t, ref)).toBeLessThanOrEqual(1e-5);
  });

  test('Tucker-2 conv (1x1 → 3x3 → 1x1) becomes three Conv2D layers: tfjs = ORT to 1e-5', async () => {
    const a = await readKeras(`${KERAS_DIR}mlperf-tiny/resnet8_cifar10.h5`);
    const g = a.model.graph;
    const conv = g.nodes.find((n) => n.opType === 'Conv' && n.metadataProps.get(KERAS_LAYER_KEY)?.includes('"conv2d_1"'))!;
    const r = 4;
    const w1 = g.addInitializer('conv2d_1/tucker_in', new Tensor('float32', [r, 16, 1, 1], seeded(r * 16, 21, -0.3, 0.3)));
    const core = g.addInitializer('conv2d_1/tucker_core', new Tensor('float32', [r, r, 3, 3], seeded(r * r * 9, 22, -0.3, 0.3)));
    const w3 = g.addInitializer('conv2d_1/tucker_out', new Tensor('float32', [16, r, 1, 1], seeded(16 * r, 23, -0.3, 0.3)));
    const one = { kernel_shape: [1, 1], strides: [1, 1], pads: [0, 0, 0, 0] };
    const mk = (name: string, inputs: (typeof w1 | undefined)[], attrs: Record<string, number[]>): Node => {
      const n = new Node({
        opType: 'Conv',
        name,
        inputs,
        outputs: [`${name}:0`],
        attributes: Object.entries(attrs).map(([k, vv]) => [k, { type: 'INTS', value: vv.map(BigInt) }]),
      });
      n.metadataProps.set(KERAS_LAYER_KEY, conv.metadataProps.get(KERAS_LAYER_KEY)!);
      return n;
    };
    const n1 = mk('conv2d_1/t1', [conv.inputs[0], w1], one);
    const n2 = mk('conv2d_1/t2', [n1.outputs[0], core], {
      kernel_shape: [3, 3],
      strides: [1, 1],
      pads: conv.attrInts('pads')!,
      dilations: [1, 1],
    });
    g.insertBefore(conv, [n1, n2]);
    conv.replaceInput(0, n2.outputs[0]);
    conv.replaceInput(1, w3);
    conv.setAttr('kernel_shape', { type: 'INTS', value: [1n, 1n] });
    conv.setAttr('pads', { type: 'INTS', value: [0n, 0n, 0n, 0n] });
    g.removeUnusedInitializers();
    const out = join(dir, 'tucker.h5');
    const res = await saveKeras(a.model, out);
    expect(res.layers.filter((l) => l.name.startsWith('conv2d_1')).map((l) => `${l.className}:${l.name}`)).toEqual([
      'Conv2D:conv2d_1_factor1',
      'Conv2D:conv2d_1_factor2',
      'Conv2D:conv2d_1',
    ]);
    const b = await readKeras(out);
    expect(b.keras.layers.find((l) => l.name === 'conv2d_1_factor2')!.config).toMatchObject({
      kernel_size: [3, 3],
      padding: 'same',
      filters: 4,
      use_bias: false,
    });
    const f = feeds(a.model);
    const ref = (await ortOut(a.model, f))[0]!;
    const t = tfjsRun(await tfjsModel(await originalConfig(out), b.keras), f.x, f.dims)[0]!;
    expect(relErr(t, ref)).toBeLessThanOrEqual(1e-5);
  });

  test('int8 DequantizeLinear weights are stored dequantized in h5 (Keras has no int8 storage): tfjs = ORT to 1e-5', async () => {
    const a = await readKeras(`${KERAS_DIR}tensorspace/lenet_mnist.h5`);
    const g = a.model.graph;
    const mm = g.nodes.find((n) => n.opType === 'MatMul' && n.metadataProps.get(KERAS_LAYER_KEY)?.includes('"Dense_1"'))!;
    const w = mm.inputs[1]!.constValue!;
    const data = w.data as Float32Array;
    const s = data.reduce((m, x) => Math.max(m, Math.abs(x)), 0) / 127;
    const q = g.addInitializer(
      'Dense_1/kernel_q',
      new Tensor(
        'int8',
        w.dims,
        Int8Array.from(data, (x) => Math.round(x / s)),
      ),
    );
    const sc = g.addInitializer('Dense_1/kernel_scale', new Tensor('float32', [], new Float32Array([s])));
    const dq = new Node({ opType: 'DequantizeLinear', name: 'Dense_1/dq', inputs: [q, sc], outputs: ['Dense_1/kernel_dq'] });
    g.insertBefore(mm, dq);
    mm.replaceInput(1, dq.outputs[0]);
    g.removeUnusedInitializers();
    const out = join(dir, 'dq.h5');
    await saveKeras(a.model, out);
    const b = await readKeras(out);
    const k = b.keras.layers.find((l) => l.name === 'Dense_1')!.weights[0]!;
    expect(k.dtype).toBe('float32');
    expect((k.data as Float32Array)[0]).toBeCloseTo((q.constValue!.data as Int8Array)[0]! * s, 6);
    const f = feeds(a.model);
    const ref = (await ortOut(a.model, f))[0]!;
    const t = tfjsRun(await tfjsModel(await originalConfig(out), b.keras), f.x, f.dims)[0]!;
    expect(relErr(t, ref)).toBeLessThanOrEqual(1e-5);
  });
});

describe.skipIf(SKIP_SHARED !== false || !existsSync(`${SHARED}models/onnx/hls4ml_three_layer_keras.onnx`))(
  `hls4ml reference pair${skipNote(sharedAbsent('models/keras/README.md', 'models/onnx/hls4ml_three_layer_keras.onnx'))}`,
  () => {
    test('hls4ml_three_layer_keras.onnx = our Keras → ONNX export of KERAS_3layer (≤ 1e-5)', async () => {
      const a = await readKeras({
        architecture: `${KERAS_DIR}hls4ml/KERAS_3layer.json`,
        weights: `${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5`,
      });
      const ref = await ort.InferenceSession.create(`${SHARED}models/onnx/hls4ml_three_layer_keras.onnx`);
      const x = seeded(8 * 16, 5, -2, 2);
      const ours = (await runOrt(a.model, { input_1: { data: x, dims: [8, 16] } })).output_softmax!.data;
      for (let i = 0; i < 8; i++) {
        const r = await ref.run({ [ref.inputNames[0]!]: new ort.Tensor('float32', x.slice(i * 16, i * 16 + 16), [1, 16]) });
        const want = r[ref.outputNames[0]!]!.data as Float32Array;
        expect(relErr(ours.slice(i * 5, i * 5 + 5), want)).toBeLessThanOrEqual(1e-5);
      }
    });
  },
);

/** tfjs-layers' own loader on files we wrote (model.json + shards through tf.io.fromMemory). */
async function loadTfjs(path: string): Promise<tf.LayersModel> {
  const j = JSON.parse(readFileSync(path, 'utf8'));
  const d = path.slice(0, path.lastIndexOf('/') + 1);
  const specs = j.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights);
  const bufs = j.weightsManifest.flatMap((g: { paths: string[] }) => g.paths.map((p) => readFileSync(d + p)));
  const all = Buffer.concat(bufs);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: j.modelTopology, weightSpecs: specs, weightData }));
}

test('written-files directory holds no temp files', () => {
  expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});
