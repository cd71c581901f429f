#!/usr/bin/env node
// Trains the Keras mnist_cnn architecture (Conv32-Conv64-MaxPool-Dropout-Dense128-Dropout-Dense10-Softmax) on MNIST
// with @mc/distill and saves it as ONNX, for benchmarks that need a real trained CNN (lowrank, prune, quantize).
//
//   node packages/distill/scripts/train-mnist-cnn.mjs [out.onnx] [--limit N] [--epochs E] [--seed S]
//   const { trainMnistCnn } = await import('<repo>/packages/distill/scripts/train-mnist-cnn.mjs');
//   const { path, top1 } = await trainMnistCnn({ out: 'bench/.cache/mnist_cnn.onnx' });   // cached: reused if present
//
// Defaults: 12,000 training samples, 1 epoch, batch 128, Adam 1e-3, seed 1 (~3-4 min on 1 core, ~97% test top-1).
// Needs ../shared/data/mnist; builds dist/ of @mc/distill, @mc/io-onnx and @mc/verify first (tsc -b).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export async function trainMnistCnn(opts = {}) {
  const out = path.resolve(root, opts.out ?? 'bench/.cache/mnist_cnn.onnx');
  const limit = opts.limit ?? 12000;
  const epochs = opts.epochs ?? 1;
  const seed = opts.seed ?? 1;
  const meta = `${out}.json`;
  if (existsSync(out) && existsSync(meta) && !opts.force) {
    const m = JSON.parse(readFileSync(meta, 'utf8'));
    if (m.limit === limit && m.epochs === epochs && m.seed === seed) return { path: out, ...m, cached: true };
  }
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/distill', 'packages/io-onnx', 'packages/verify'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) throw new Error('tsc -b packages/distill packages/io-onnx packages/verify failed');
  const distill = await import(path.join(root, 'packages/distill/dist/index.js'));
  const datasets = await import(path.join(root, 'packages/datasets/dist/index.js'));
  const io = await import(path.join(root, 'packages/io-onnx/dist/index.js'));
  const verify = await import(path.join(root, 'packages/verify/dist/index.js'));
  const ir = await import(path.join(root, 'packages/ir/dist/index.js'));
  const dir = path.resolve(root, opts.dataDir ?? '../shared/data/mnist');
  const train = await datasets.loadMnist(dir, { split: 'train', limit });
  const test = await datasets.loadMnist(dir, { split: 'test' });
  const t0 = performance.now();
  const { model, report } = await distill.finetune(distill.mnistCnn({ seed }), train, { epochs, batchSize: 128, learningRate: 1e-3, seed, onProgress: opts.onProgress });
  const trainSeconds = (performance.now() - t0) / 1000;
  const session = await verify.createSession(model);
  const r = await datasets.evaluate(async (b) => Object.values(await session.run({ input: new ir.Tensor('float32', b.dims, b.x) }))[0].data, test, { batchSize: 500 });
  await session.release();
  mkdirSync(path.dirname(out), { recursive: true });
  await io.saveOnnx(model, out);
  const info = { limit, epochs, seed, top1: r.top1, trainSeconds, stepMs: report.stepMs.median };
  writeFileSync(meta, JSON.stringify(info, null, 2));
  return { path: out, ...info, cached: false };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (n) => {
    const i = args.indexOf(`--${n}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const out = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
  const r = await trainMnistCnn({ out, limit: flag('limit'), epochs: flag('epochs'), seed: flag('seed'), force: args.includes('--force') });
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
