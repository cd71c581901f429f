import { describe, expect, it } from 'vitest';
import { type Model, Tensor } from '@mc/ir';
import { loadOnnx } from '@mc/io-onnx';
import { createSession } from '@mc/verify';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { writeOnnx } from '@mc/io-onnx';
import { EXACT_DQ, checkerFailures, haveMnist, havePyOnnx, MNIST, mnistFeeds, mnistModel, mnistTest, once, PY_ONNX } from './helpers.js';

const N = 1000;

async function accuracy(model: Model, images: Float32Array, labels: Uint8Array): Promise<number> {
  const s = await createSession(model, { sessionOptions: EXACT_DQ as never });
  let ok = 0;
  try {
    for (let i = 0; i < labels.length; i++) {
      const r = await s.run({ Input3: new Tensor('float32', [1, 1, 28, 28], images.subarray(i * 784, (i + 1) * 784)) });
      const y = Object.values(r)[0]!.data as Float32Array;
      let best = 0;
      for (let k = 1; k < y.length; k++) if (y[k]! > y[best]!) best = k;
      if (best === labels[i]) ok++;
    }
  } finally {
    await s.release();
  }
  return (100 * ok) / labels.length;
}

describe.skipIf(!haveMnist)(`MNIST (mnist-cntk ONNX model, first 1,000 real test images)${MNIST}`, () => {
  // Loaded on first use, so the suite registers (and skips by name) without the data.
  const data = once(async () => {
    const float = await loadOnnx(mnistModel);
    const { images, labels } = mnistTest(N);
    return { float, images, labels, base: await accuracy(float, images, labels), fileBytes: writeOnnx(float).byteLength };
  });
  const train = once(async () => mnistTest(64, 'train'));

  const cases: [string, (calib: Float32Array) => QuantizeOptions, number, number][] = [
    // title, options (given the calibration images), max accuracy drop (pt), max bytes ratio (of initializer bytes)
    ['fp16: drop ≤ 0.05 pt at ≤ 51% bytes', () => ({ mode: 'fp16' }), 0.05, 0.51],
    [
      'int8-static minmax per-channel: drop ≤ 0.3 pt at ≤ 27% bytes',
      (c) => ({ mode: 'int8-static', calibration: mnistFeeds(c, 0, 64) }),
      0.3,
      0.27,
    ],
    [
      'int8-static entropy: drop ≤ 0.3 pt',
      (c) => ({ mode: 'int8-static', method: 'entropy', calibration: mnistFeeds(c, 0, 64) }),
      0.3,
      0.27,
    ],
    ['int8-weights: drop ≤ 0.3 pt at ≤ 27% bytes', () => ({ mode: 'int8-weights' }), 0.3, 0.27],
    ['int4 MatMulNBits: drop ≤ 0.5 pt', () => ({ mode: 'int4' }), 0.5, 1],
    ['kmeans 4-bit: drop ≤ 0.5 pt', () => ({ mode: 'kmeans', bits: 4, minElements: 1 }), 0.5, 0.2],
    ['binary: reported (drop ≤ 100 pt)', () => ({ mode: 'binary' }), 100, 0.1],
  ];
  const quantized = new Map(
    cases.map(([title, opts]) => [title, once(async () => quantize((await data()).float, opts((await train()).images)))]),
  );
  for (const [title, , maxDrop, maxBytes] of cases) {
    it(title, async () => {
      const { images, labels, base, fileBytes } = await data();
      const { model, report } = await quantized.get(title)!();
      const acc = await accuracy(model, images, labels);
      expect(base - acc, `accuracy ${acc}% vs float ${base}%`).toBeLessThanOrEqual(maxDrop);
      expect(report.after.paramBytes / report.before.paramBytes).toBeLessThanOrEqual(maxBytes);
      expect(writeOnnx(model).byteLength).toBeLessThan(fileBytes * Math.max(maxBytes + 0.1, 0.3) + 4096);
    });
  }
  it.skipIf(!havePyOnnx)(`onnx.checker accepts every mode's model${PY_ONNX}`, async () => {
    expect(await checkerFailures(cases.map(([title]) => [title, async () => (await quantized.get(title)!()).model] as const))).toEqual([]);
  });
});
