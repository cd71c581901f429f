import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { evaluate, loadMnist } from '@mc/datasets';
import { beforeAll, describe, expect, it } from 'vitest';
import { torchLenet, torchLenetMissing } from '../../../bench/lenet/torch-lenet.mjs';
import { mc, repoRoot, shared, tempDir } from './helpers.js';

// Deep Compression (prune 92 % globally, fine-tune with the zeros held, 4-bit k-means values in the packed stream) on
// a LeNet-300-100 that mc did not train: PyTorch's (bench/lenet/train_lenet_torch.py, Debian python3-torch, 4 epochs,
// exported by torch.onnx as Flatten → Gemm(transB=1) + Relu). Cached in ~/.cache/mc/lenet-torch; the first run trains it
// (about 3 minutes on a busy core). The command is the default recipe docs/prune.md gives; the full measurement on
// this model and on mc's own LeNet is bench/deep-compression.bench.mjs (docs/benchmarks.md), with a second, better-trained PyTorch model.
const mnistDir = path.join(shared, 'data/mnist');
const missing = torchLenetMissing(mnistDir);
const data = ['--dataset', 'mnist', '--data-dir', mnistDir];
/** The documented default recipe, after `mc prune`. */
const RECIPE = ['--sparsity', '0.92', '--global', '--codebook', '4', '--finetune', '--epochs', '5', '--schedule', 'cosine'];

async function top1(file: string): Promise<number> {
  const r = await mc('eval', ...data, file);
  expect(r.code, r.err).toBe(0);
  const m = /top-1 ([\d.]+)% \((\d+)\/10000\)/.exec(r.out);
  expect(m, r.out).not.toBeNull();
  return Number(m![2]) / 10000;
}

async function top1Web(file: string): Promise<number> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const s = await ort.InferenceSession.create(readFileSync(file));
  try {
    const test = await loadMnist(mnistDir, { split: 'test' });
    const r = await evaluate(
      async (b) => Object.values(await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', b.x, [...b.dims]) }))[0]!.data as Float32Array,
      test,
      { batchSize: 500, layout: 'NCHW' },
    );
    return r.top1;
  } finally {
    await s.release();
  }
}

describe.skipIf(missing !== undefined)(
  `Deep Compression default recipe on PyTorch's LeNet-300-100${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    let input = '';
    beforeAll(() => {
      input = torchLenet(mnistDir).file;
    }, 900_000);

    it('≥ 35× smaller runnable file at ≤ 0.3 pt top-1 drop on the 10,000 test images; passes onnx.checker, same top-1 in onnxruntime-web', async () => {
      const out = path.join(tempDir(), 'lenet-dc.onnx');
      const r = await mc('prune', ...RECIPE, ...data, input, out);
      expect(r.code, r.err + r.out).toBe(0);
      const ratio = statSync(input).size / statSync(out).size;
      const [before, after] = [await top1(input), await top1(out)];
      expect(ratio).toBeGreaterThanOrEqual(35);
      expect(before - after).toBeLessThanOrEqual(0.003);
      // The checker of Debian python3-onnx (the torch export is IR 7, which it knows).
      const check = spawnSync(
        '/usr/bin/python3',
        ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', out],
        { encoding: 'utf8', cwd: repoRoot },
      );
      expect(check.status, check.stderr).toBe(0);
      // onnxruntime-web decodes the same stream: its top-1 equals onnxruntime-node's (the float sums may differ in ulps).
      expect(Math.abs((await top1Web(out)) - after)).toBeLessThanOrEqual(0.0002);
    }, 600_000);
  },
);
