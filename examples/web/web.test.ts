import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMnist } from '@mc/datasets';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import { countOps } from '@mc/ir/testing';
import { quantize } from '@mc/quantize';
import * as ort from 'onnxruntime-node';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { startServer } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '../../../shared');
const mnistModel = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const chromiumPath = '/usr/bin/chromium';
const missing = [mnistModel, path.join(shared, 'data/mnist'), chromiumPath].filter((p) => !existsSync(p));
const why = missing.length > 0 ? ` (skipped: missing ${missing.join(', ')}; apt-get install chromium, ../shared data)` : '';

const N = 100;

async function first100() {
  const ds = await loadMnist(path.join(shared, 'data/mnist'), { split: 'test' });
  const images = new Float32Array(N * 784);
  const labels = new Int32Array(N);
  for await (const b of ds.batches({ batchSize: N, limit: N, layout: 'NCHW' })) {
    images.set(b.x);
    labels.set(b.labels);
  }
  return { images, labels };
}

describe.skipIf(missing.length > 0)(`examples/web in headless Chromium${why}`, () => {
  it('shows the same top-1 as onnxruntime-node on 100 MNIST images', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-web-'));
    const modelPath = path.join(dir, 'model.onnx');
    const model = await loadOnnx(mnistModel);
    const compressed = (await quantize(model, { mode: 'int8-weights' })).model;
    expect(countOps(compressed).DequantizeLinear).toBeGreaterThan(0);
    await saveOnnx(compressed, modelPath);
    const { images, labels } = await first100();

    // onnxruntime-node on the same images: raw 0..255 pixels, as the model was trained.
    const session = await ort.InferenceSession.create(modelPath);
    const nodeTop1: number[] = [];
    for (let i = 0; i < N; i++) {
      const x = images.slice(i * 784, (i + 1) * 784).map((v) => v * 255);
      const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [1, 1, 28, 28]) });
      const logits = out[session.outputNames[0]!]!.data as Float32Array;
      nodeTop1.push(logits.indexOf(Math.max(...logits)));
    }

    const server = await startServer({ modelPath, images, labels, dims: [1, 1, 28, 28], scale: 255 });
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
      await page.goto(server.url);
      await page.waitForFunction(() => (window as unknown as { mcResult?: unknown }).mcResult !== undefined, undefined, { timeout: 60_000 });
      const result = (await page.evaluate(() => (window as unknown as { mcResult: unknown }).mcResult)) as { top1?: number[]; correct?: number; error?: string };
      expect(result.error).toBeUndefined();
      expect(result.top1).toEqual(nodeTop1);
      expect(result.correct).toBeGreaterThanOrEqual(95);
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
