import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '@mc/io-onnx';
import { type Model, ModelBuilder, Tensor } from '@mc/ir';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { compareOutputs, randomFeeds, runModel } from '@mc/verify';
import { checkerFailures, havePyOnnx, once, PY_ONNX, shared } from './helpers.js';
import { skipNote } from '../../../test-support/shared.js';

// Real models made by other people: opset-9 graphs whose Slice/Softmax/Dropout/Pad signatures change on the way to
// opset 13, an LSTM that passes through, a Resize that fp16 keeps in float32.
const models = ['ultraface-version-RFB-320.onnx', 'keras2onnx_lstm_conv1d.onnx', 'image_classifier32.onnx'].map((f) =>
  join(shared, 'models/onnx', f),
);
const modes: [QuantizeOptions['mode'], number][] = [
  ['fp16', 0.9999],
  ['int8-weights', 0.999],
  ['int8-static', 0.99],
  ['kmeans', 0.98],
];

describe('raising the opset keeps old Softmax semantics (2-D coercion at axis)', () => {
  it('opset 11 Softmax(axis=1) on [2,3,4] → opset 13 Flatten/Softmax/Reshape, outputs equal', async () => {
    const b = new ModelBuilder({ opset: 11, irVersion: 7 });
    const x = b.input('x', 'float32', [2, 3, 4]);
    const w = b.initializer(
      'w',
      new Tensor(
        'float32',
        [4, 4],
        Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)),
      ),
    );
    b.output(b.node('Softmax', [b.node('MatMul', [x, w])], { axis: 1 }), 'y');
    const m = b.build();
    const feeds = {
      x: new Tensor(
        'float32',
        [2, 3, 4],
        Float32Array.from({ length: 24 }, (_, i) => Math.cos(i)),
      ),
    };
    const { model } = await quantize(m, { mode: 'int8-weights' });
    expect(model.opset('')).toBe(13);
    const c = compareOutputs(await runModel(m, feeds), await runModel(model, feeds)).y!;
    expect(c.cosine).toBeGreaterThan(0.9999);
  });
});

describe.skipIf(!models.every(existsSync))(
  `real ONNX models: every mode loads and runs in onnxruntime-node and passes onnx.checker${skipNote(!models.every(existsSync) && `${models.find((m) => !existsSync(m))} is missing`)}`,
  () => {
    const optsFor = (mode: QuantizeOptions['mode'], feeds: Record<string, Tensor>) =>
      (mode === 'int8-static' ? { mode, calibration: [feeds] } : { mode }) as QuantizeOptions;
    // One load, reference run and quantization per model and mode, shared by the runtime test and the checker test.
    const runs = new Map(
      models.map((file) => [
        file,
        once(async () => {
          const m = await loadOnnx(file);
          const feeds = randomFeeds(m, 1);
          const out = new Map<string, Model>();
          for (const [mode] of modes) out.set(mode, (await quantize(m, optsFor(mode, feeds))).model);
          return { feeds, ref: await runModel(m, feeds), quantized: out };
        }),
      ]),
    );
    for (const file of models) {
      it(`${file.split('/').pop()}: fp16 cos≥0.9999, int8 cos≥0.99, kmeans cos≥0.98`, async () => {
        const { feeds, ref, quantized } = await runs.get(file)!();
        for (const [mode, minCos] of modes) {
          const out = await runModel(quantized.get(mode)!, feeds);
          for (const c of Object.values(compareOutputs(ref, out))) expect(c.cosine, mode).toBeGreaterThanOrEqual(minCos);
        }
      });
    }
    it.skipIf(!havePyOnnx)(`onnx.checker accepts every mode's output of each model${PY_ONNX}`, async () => {
      const all = models.flatMap((file) =>
        modes.map(([mode]) => [`${file.split('/').pop()} ${mode}`, async () => (await runs.get(file)!()).quantized.get(mode)!] as const),
      );
      expect(await checkerFailures(all)).toEqual([]);
    });
  },
);
