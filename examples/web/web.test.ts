import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import { countOps } from '@mc/ir/testing';
import { quantize } from '@mc/quantize';
import * as ort from 'onnxruntime-node';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/cli/src/cli.js';
import { startServer, testImages } from './serve.mjs';
import { SHARED_DIR } from '../../test-support/shared.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const shared = SHARED_DIR;
const chromiumPath = '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const keras = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
const cntk = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const skipWhy = (missing: string[]): string => (missing.length === 0 ? '' : ` (skipped: missing ${missing.join(', ')})`);
const noChromium = haveChromium ? [] : [`${chromiumPath} (apt-get install chromium)`];

type Data = Awaited<ReturnType<typeof testImages>>;
type PageResult = { top1?: number[]; correct?: number; n?: number; plan?: { layout: string; scale: number }; error?: string; status: string };

async function mc(...argv: string[]): Promise<void> {
  let err = '';
  const code = await runCli(argv, { out: () => {}, err: (t) => (err += `${t}\n`), isTTY: false, quiet: true });
  if (code !== 0) throw new Error(`mc ${argv.join(' ')} exited ${code}: ${err}`);
}

/** Top-1 of every image in onnxruntime-node; grey 28x28 images have one memory order in every layout. */
async function nodeTop1(modelPath: string, data: Data, scale: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(modelPath);
  const meta = session.inputMetadata[0]!;
  const dims = (meta as { shape: (number | string)[] }).shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  const size = data.height * data.width;
  const top1: number[] = [];
  for (let i = 0; i < data.labels.length; i++) {
    const x = Float32Array.from(data.images.subarray(i * size, (i + 1) * size), (v) => v * scale);
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    const logits = out[session.outputNames[0]!]!.data as Float32Array;
    top1.push(logits.indexOf(Math.max(...logits)));
  }
  return top1;
}

describe.skipIf(!haveChromium)(`examples/web in headless Chromium${skipWhy(noChromium)}`, () => {
  let browser: Browser;
  let data: Data;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mc-web-'));

  beforeAll(async () => {
    data = await testImages(); // the first 100 of examples/data/mnist-1k, shipped with the repository
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function open(modelPath: string, query = '', defaults: Record<string, string> = {}): Promise<PageResult> {
    const server = await startServer({ modelPath, data, defaults });
    try {
      const page = await browser.newPage();
      await page.goto(server.url + query);
      await page.waitForFunction(() => (window as unknown as { mcResult?: unknown }).mcResult !== undefined, undefined, { timeout: 60_000 });
      const result = (await page.evaluate(() => (window as unknown as { mcResult: unknown }).mcResult)) as PageResult;
      const status = (await page.textContent('#status')) ?? '';
      await page.close();
      return { ...result, status };
    } finally {
      await server.close();
    }
  }

  it("the README's output model (input [batch, 784], pixels / 255): same top-1 as onnxruntime-node", async () => {
    const small = path.join(dir, 'mnist-mlp-small.onnx');
    // The README's first command, as written there.
    await mc('compress', '--error', '0.5', '--finetune', '--epochs', '5', '--dataset', 'mnist', '--data-dir', path.join(repo, 'examples/data/mnist-1k'), path.join(repo, 'examples/models/mnist-mlp.onnx'), small);
    const r = await open(small);
    expect(r.error).toBeUndefined();
    expect(r.plan).toMatchObject({ layout: 'flat', scale: 1 / 255 });
    expect(r.top1).toEqual(await nodeTop1(small, data, 1 / 255));
    expect(r.correct).toBeGreaterThanOrEqual(90);
    expect(r.status).toMatch(/^\d+ \/ 100 correct/);
  });

  it.skipIf(!existsSync(keras))(`a Keras model converted by mc convert (input [?, 28, 28, 1], NHWC)${skipWhy(existsSync(keras) ? [] : [keras])}`, async () => {
    const onnx = path.join(dir, 'mnist_convnet.onnx');
    await mc('convert', keras, onnx);
    const r = await open(onnx);
    expect(r.error).toBeUndefined();
    expect(r.plan).toMatchObject({ layout: 'nhwc', scale: 1 / 255 });
    expect(r.top1).toEqual(await nodeTop1(onnx, data, 1 / 255));
    expect(r.correct).toBeGreaterThanOrEqual(95);
  });

  it.skipIf(!existsSync(cntk))(`an int8 ONNX model trained on raw 0-255 pixels, NCHW, with ?scale=1${skipWhy(existsSync(cntk) ? [] : [cntk])}`, async () => {
    const modelPath = path.join(dir, 'cntk-int8.onnx');
    const compressed = (await quantize(await loadOnnx(cntk), { mode: 'int8-weights' })).model;
    expect(countOps(compressed).DequantizeLinear).toBeGreaterThan(0);
    await saveOnnx(compressed, modelPath);
    const r = await open(modelPath, '?scale=1');
    expect(r.error).toBeUndefined();
    expect(r.plan).toMatchObject({ layout: 'nchw', scale: 1 });
    expect(r.top1).toEqual(await nodeTop1(modelPath, data, 1));
    expect(r.correct).toBeGreaterThanOrEqual(95);
  });

  const resnet8 = path.join(shared, 'models/keras/mlperf-tiny/resnet8_cifar10.h5');
  const cifar = path.join(shared, 'data/cifar10');
  it.skipIf(!existsSync(resnet8) || !existsSync(cifar))(`a Keras ResNet8 on 32x32 RGB CIFAR-10 images, raw pixels (--scale 1 on the server)${skipWhy([resnet8, cifar].filter((p) => !existsSync(p)))}`, async () => {
    const onnx = path.join(dir, 'resnet8.onnx');
    await mc('convert', resnet8, onnx);
    const rgb = await testImages({ dataset: 'cifar10', dataDir: cifar });
    const server = await startServer({ modelPath: onnx, data: rgb, defaults: { scale: '1' } });
    try {
      const page = await browser.newPage();
      await page.goto(server.url);
      await page.waitForFunction(() => (window as unknown as { mcResult?: unknown }).mcResult !== undefined, undefined, { timeout: 60_000 });
      const r = (await page.evaluate(() => (window as unknown as { mcResult: unknown }).mcResult)) as PageResult;
      await page.close();
      expect(r.error).toBeUndefined();
      expect(r.plan).toMatchObject({ layout: 'nhwc', channels: 3, height: 32, width: 32, scale: 1 });
      // The README of ../shared/models/keras measured 88.1 % on the first 1000 test images.
      expect(r.correct).toBeGreaterThanOrEqual(80);
    } finally {
      await server.close();
    }
  });

  it('a layout or scale that cannot fit the model is one clear message, no stack trace', async () => {
    const model = path.join(repo, 'examples/models/mnist-mlp.onnx');
    const r = await open(model, '?layout=nhwc');
    expect(r.error).toMatch(/^model input 'image' has shape \[\?, 784\]: layout nhwc needs a rank-4 input; pass layout=nchw\|nhwc\|nhw\|flat/);
    expect(r.status).toBe(`error: ${r.error}`);
    expect(r.error).not.toMatch(/\n\s+at |app\.mjs:\d+/);
    const s = await open(model, '', { scale: 'abc' });
    expect(s.error).toMatch(/^scale 'abc' is not a positive number or 1\/N/);
    // A scale that leaves only the biases (every image one class) says what to check instead of only scoring low.
    const tiny = await open(model, '?scale=1e-9');
    expect(tiny.correct).toBeLessThan(30);
    expect(tiny.status).toMatch(/far below a trained classifier: check the pixel scale \(scale=1 for raw 0-255 pixels/);
  });
});

describe('examples/web/serve.mjs on the command line', () => {
  const serve = (...args: string[]): Promise<{ code: number; err: string }> =>
    promisify(execFile)(process.execPath, [path.join(here, 'serve.mjs'), ...args], { timeout: 60_000 }).then(
      (r) => ({ code: 0, err: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, err: e.stderr }),
    );

  it('missing data, a missing model and no model are one line each with the fix, exit 3/3/2, no stack trace', async () => {
    const model = path.join(repo, 'examples/models/mnist-mlp.onnx');
    const noData = await serve(model, '--data-dir', path.join(os.tmpdir(), 'mc-no-such-dir'));
    expect(noData.code).toBe(3);
    expect(noData.err).toMatch(/^serve\.mjs: cannot read mnist test images in .*mc-no-such-dir: .*; pass --dataset mnist\|cifar10 --data-dir DIR/);
    const noModel = await serve(path.join(os.tmpdir(), 'mc-no-such-model.onnx'));
    expect(noModel.code).toBe(3);
    expect(noModel.err).toMatch(/^serve\.mjs: cannot read the model .*: ENOENT; pass the path of an \.onnx file/);
    const none = await serve();
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^serve\.mjs: pass one model file, got 0\nusage: /);
    for (const r of [noData, noModel, none]) expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe('examples/web/README.md', () => {
  it("runs the root README's first command, spelled the same, and serves its output", () => {
    const first = (file: string): string | undefined => /pnpm mc .*/.exec(readFileSync(file, 'utf8'))?.[0].trim();
    const root = first(path.join(repo, 'README.md'));
    expect(root).toMatch(/^pnpm mc compress .* (\S+\.onnx)$/);
    expect(first(path.join(repo, 'examples/web/README.md'))).toBe(root);
    const output = /(\S+\.onnx)$/.exec(root!)![1]!;
    expect(readFileSync(path.join(repo, 'examples/web/README.md'), 'utf8')).toContain(`node examples/web/serve.mjs ${output}`);
  });
});
