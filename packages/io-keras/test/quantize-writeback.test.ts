import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '@mc/ir';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { afterAll, describe, expect, test } from 'vitest';
import { readKeras, saveKeras } from '../src/index.js';
import { argmax, KERAS_DIR, relErr, runOrt, seeded, SKIP_SHARED, SHARED_NOTE } from './helpers.js';
import { originalConfig, tfjsModel, tfjsRun } from './tfjs-reference.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-q-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const N = 8;
const x = seeded(N * 784, 17, 0, 1);

describe.skipIf(SKIP_SHARED !== false)(
  `@mc/quantize output written back to Keras h5: weights stored dequantized, tfjs-layers loads it${SHARED_NOTE}`,
  () => {
    const modes: [string, (calib: Record<string, Tensor>[]) => QuantizeOptions, number][] = [
      ['int8-weights per-channel (weights only: ≤ 1e-5)', () => ({ mode: 'int8-weights', perChannel: true }), 1e-5],
      ['kmeans 4 bits (weights only: ≤ 1e-5)', () => ({ mode: 'kmeans', bits: 4 }), 1e-5],
      ['fp16 (ORT computes in float16: ≤ 1e-2)', () => ({ mode: 'fp16' }), 1e-2],
      ['int8-static QDQ (activations float in Keras: ≤ 5e-2, same top-1)', (calibration) => ({ mode: 'int8-static', calibration }), 5e-2],
    ];
    for (const [label, opts, tol] of modes) {
      test(label, async () => {
        const a = await readKeras(`${KERAS_DIR}tensorspace/lenet_mnist.h5`);
        const calib = [{ input_1: new Tensor('float32', [N, 28, 28], x) }];
        const { model } = await quantize(a.model, { ...opts(calib), keepMetadata: true });
        const out = join(dir, `${label.split(' ')[0]}.h5`);
        const res = await saveKeras(model, out);
        expect(res.layers.map((l) => l.className)).toEqual(a.keras.layers.map((l) => l.className));
        const b = await readKeras(out);
        expect(b.keras.layers.flatMap((l) => l.weights.map((w) => w.dtype)).every((d) => d === 'float32')).toBe(true);
        const ref = (await runOrt(model, { input_1: { data: x, dims: [N, 28, 28] } })).Softmax!.data;
        const t = tfjsRun(await tfjsModel(await originalConfig(out), b.keras), x, [N, 28, 28])[0]!;
        expect(relErr(t, ref)).toBeLessThanOrEqual(tol);
        for (let i = 0; i < N; i++) expect(argmax(t, i * 10, 10)).toBe(argmax(ref, i * 10, 10));
      });
    }
  },
);

describe.skipIf(SKIP_SHARED !== false)(`@mc/quantize output without its Keras layer tags${SHARED_NOTE}`, () => {
  test('writing it as Keras fails with a message that names keepMetadata, and writes nothing', async () => {
    const a = await readKeras(`${KERAS_DIR}tensorspace/lenet_mnist.h5`);
    const { model } = await quantize(a.model, { mode: 'int8-weights' });
    const out = join(dir, 'slim.h5');
    await expect(saveKeras(model, out)).rejects.toThrow(/keepMetadata: true/);
    expect(existsSync(out)).toBe(false);
  });
});

describe.skipIf(SKIP_SHARED !== false)(
  `@mc/quantize int8 weights written to TF.js keep their codes as uint8 weight specs${SHARED_NOTE}`,
  () => {
    test('int8-weights per-tensor → model.json with uint8 specs; tfjs-layers = ORT on the quantized IR (≤ 1e-5)', async () => {
      const a = await readKeras(`${KERAS_DIR}tensorspace/lenet_mnist.h5`);
      const { model } = await quantize(a.model, { mode: 'int8-weights', perChannel: false, keepMetadata: true });
      const out = join(dir, 'int8.json');
      await saveKeras(model, out);
      const json = JSON.parse(readFileSync(out, 'utf8'));
      const specs = json.weightsManifest[0].weights as { name: string; quantization?: { dtype: string } }[];
      const quantized = specs.filter((w) => w.quantization?.dtype === 'uint8').map((w) => w.name);
      expect(quantized.length).toBeGreaterThan(0);
      expect(quantized.every((n) => n.endsWith('/kernel'))).toBe(true);
      const bin = readFileSync(join(dir, 'int8.weights.bin'));
      const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
      const m = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs as never, weightData }));
      const t = tfjsRun(m, x, [N, 28, 28])[0]!;
      const ref = (await runOrt(model, { input_1: { data: x, dims: [N, 28, 28] } })).Softmax!.data;
      expect(relErr(t, ref)).toBeLessThanOrEqual(1e-5);
    });
  },
);
