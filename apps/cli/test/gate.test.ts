import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadDataset } from '@mc/datasets';
import { distill, finetune } from '@mc/distill';
import { loadOnnx } from '@mc/io-onnx';
import { McError, type Model } from '@mc/ir';
import { factorize } from '@mc/lowrank';
import { gate } from '@mc/pipeline';
import { prune } from '@mc/prune';
import { quantize } from '@mc/quantize';
import type { GateTechnique } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { exitCodeFor } from '../src/exit-codes.js';
import { verifyBeforeWrite, verifyWritten } from '../src/verify-gate.js';
import { npyBytes } from '../../../test-support/npy.js';
import { poisoned, quietIO } from './gate-helpers.js';
import { mc, repoRoot, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const cntk = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const mlp = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
const mnistDir = path.join(shared, 'data/mnist');
const have = existsSync(cntk) && existsSync(path.join(mnistDir, 'train-images-idx3-ubyte.gz'));
const data = ['--dataset', 'mnist', '--data-dir', mnistDir];

/** The exit code a command gets from the check it runs before writing, and whether anything is left in the folder. */
async function gateExit(
  reference: Model,
  candidate: Model,
  technique: GateTechnique,
  flags: Record<string, unknown>,
): Promise<{ code: number; message: string; files: string[] }> {
  const dir = tempDir();
  const output = path.join(dir, 'out.onnx');
  try {
    await verifyBeforeWrite(flags as never, quietIO(), { reference, candidate, technique, output });
    return { code: 0, message: '', files: readdirSync(dir) };
  } catch (e) {
    return { code: exitCodeFor(e), message: McError.is(e) ? e.message : String(e), files: readdirSync(dir) };
  }
}

const SKIP_1 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!have)(
  `fault injection: the technique result gets a NaN weight → the check every command runs exits 5, nothing written${SKIP_1}`,
  () => {
    const synthetic = { scale: 1 };
    const onData = { dataset: 'mnist', 'data-dir': mnistDir, scale: 1 };

    it('compress (lowrank), on synthetic inputs and on the test split', async () => {
      const ref = await loadOnnx(cntk);
      const bad = poisoned((await factorize(ref, { error: 0.3 })).model);
      for (const flags of [synthetic, onData]) {
        const r = await gateExit(ref, bad, 'lowrank', flags);
        expect(r).toMatchObject({ code: 5, files: [] });
        expect(r.message).toMatch(
          /verification failed \(lowrank, .*\): output 'Plus214_Output_0' has NaN or Inf where the input model's does not; nothing was written/,
        );
      }
    });

    it.each(['fp16', 'int8-weights', 'int8-dynamic', 'int4', 'kmeans'] as const)('quantize --mode %s', async (mode) => {
      const ref = await loadOnnx(cntk);
      const bad = poisoned((await quantize(ref, { mode })).model);
      const r = await gateExit(ref, bad, mode, synthetic);
      expect(r).toMatchObject({ code: 5, files: [] });
      expect(r.message).toMatch(/NaN or Inf/);
    });

    it.each([
      ['prune-magnitude', { mode: 'magnitude', sparsity: 0.5 }],
      ['prune-channels', { mode: 'channels', ratio: 0.5 }],
    ] as const)('prune (%s)', async (technique, opts) => {
      const ref = await loadOnnx(cntk);
      const r = await gateExit(ref, poisoned((await prune(ref, opts)).model), technique, synthetic);
      expect(r).toMatchObject({ code: 5, files: [] });
    });

    it('finetune and distill: the checkpoint already at the output is removed', async () => {
      const ref = await loadOnnx(mlp);
      const train = await loadDataset('mnist', mnistDir, { split: 'train', limit: 256 });
      const tuned = (await finetune(ref, train, { epochs: 1, engine: 'ort' })).model;
      const distilled = (await distill(ref, ref, train.withoutLabels(), { epochs: 1, unlabeled: true, engine: 'ort' })).model;
      for (const [technique, model] of [
        ['finetune', tuned],
        ['distill', distilled],
      ] as const) {
        const dir = tempDir();
        const output = path.join(dir, 'out.onnx');
        writeFileSync(output, 'checkpoint');
        const e = await verifyWritten({ dataset: 'mnist', 'data-dir': mnistDir }, quietIO(), {
          reference: ref,
          candidate: poisoned(model),
          technique,
          output,
        }).catch((x: unknown) => x);
        expect(exitCodeFor(e), technique).toBe(5);
        expect(readdirSync(dir), technique).toEqual([]);
      }
    });

    it('optimize: the test-split check of the chosen model', async () => {
      const ref = await loadOnnx(cntk);
      const test = await loadDataset('mnist', mnistDir, { split: 'test', limit: 200 });
      const r = await gate(ref, poisoned((await quantize(ref, { mode: 'int8-weights' })).model), {
        technique: 'optimize',
        heldOut: test,
        feed: { scale: 1 },
      });
      expect(r.ok).toBe(false);
      expect(r.failures.join()).toMatch(/NaN or Inf/);
    });
  },
);

describe('--dataset npy with one .npy per model input and no test split', () => {
  it('verifies on those inputs with the cosine bound, not on synthetic ones: a faithful candidate passes naming them, a NaN weight exits 5', async () => {
    const ref = await loadOnnx(mlp);
    const input = ref.graph.inputs[0]!;
    const dims = [3, ...(input.shape ?? []).slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1))];
    const dir = tempDir();
    const size = dims.reduce((a, b) => a * b, 1);
    writeFileSync(
      path.join(dir, `${input.name}.npy`),
      npyBytes(
        '<f4',
        dims,
        Float32Array.from({ length: size }, (_, i) => (i % 251) / 251),
      ),
    );
    const flags = { dataset: 'npy', 'data-dir': dir };
    const io = quietIO();
    const half = (await quantize(ref, { mode: 'fp16' })).model;
    const r = await verifyBeforeWrite(flags as never, io, {
      reference: ref,
      candidate: half,
      technique: 'fp16',
      output: path.join(tempDir(), 'o.onnx'),
    });
    expect(r).toMatchObject({ ok: true, inputs: `the .npy inputs in ${dir}` });
    expect(io.errText()).not.toMatch(/synthetic/);
    const bad = await gateExit(ref, poisoned(half), 'fp16', flags);
    expect(bad).toMatchObject({ code: 5, files: [] });
    expect(bad.message).toContain(`the .npy inputs in ${dir}`);
  });
});

const SKIP_2 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!have)(`really destroyed models exit 5 and leave the folder as it was${SKIP_2}`, () => {
  it.each([
    ['compress --rank 1', ['compress', '--rank', '1', ...data, '--scale', '1', '--calibration-size', '64'], /lowrank, mnist-test data/],
    [
      'quantize kmeans --bits 1',
      ['quantize', '--mode', 'kmeans', '--bits', '1', ...data, '--scale', '1', '--calibration-size', '32'],
      /top-1 accuracy on mnist-test fell \d+\.\d\d points .* more than --max-accuracy-drop 2/,
    ],
    ['prune --sparsity 0.98', ['prune', '--sparsity', '0.98', '--global', ...data, '--scale', '1'], /prune-magnitude/],
  ])('%s (mnist-cntk, --dataset mnist)', async (_label, args, why) => {
    const dir = tempDir();
    const r = await mc(...(args as string[]), cntk, path.join(dir, 'out.onnx'));
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/E_VERIFY.*verification failed/);
    expect(r.err).toMatch(why as RegExp);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('finetune with a learning rate that wrecks a trained model: exit 5, the checkpoint is removed', async () => {
    const dir = tempDir();
    const r = await mc(
      'finetune',
      mlp,
      path.join(dir, 'out.onnx'),
      ...data,
      '--limit',
      '256',
      '--lr',
      '3',
      '--optimizer',
      'sgd',
      '--engine',
      'ort',
    );
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/finetune, mnist-test data.*top-1 accuracy on mnist-test fell/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('distill with a learning rate that wrecks the student: exit 5, nothing left', async () => {
    const dir = tempDir();
    const r = await mc(
      'distill',
      '--teacher',
      mlp,
      '--student',
      mlp,
      path.join(dir, 'out.onnx'),
      ...data,
      '--limit',
      '256',
      '--unlabeled',
      '--lr',
      '3',
      '--optimizer',
      'sgd',
      '--engine',
      'ort',
    );
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/distill, mnist-test data/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('run: a lowrank rank-1 step fails its technique threshold on the data', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'r.yaml'), 'steps:\n  - lowrank: {rank: 1}\n');
    const r = await mc('run', path.join(dir, 'r.yaml'), cntk, path.join(dir, 'out.onnx'), ...data, '--scale', '1', '--limit', '256');
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/step 1 \(lowrank\) failed verification.*cosine .* < 0\.5 \(lowrank thresholds, data\)/);
    expect(readdirSync(dir)).toEqual(['r.yaml']);
  });

  it('--no-verify writes the same destroyed model and says it was not verified', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out.onnx');
    const r = await mc('compress', '--rank', '1', '--no-verify', cntk, out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: --no-verify: .*out\.onnx is written without verification/);
    expect(r.out).toMatch(/verify: skipped \(--no-verify\)/);
    expect(existsSync(out)).toBe(true);
  });
});

const resnet8 = path.join(shared, 'models/keras/mlperf-tiny/resnet8_cifar10.h5');
const cifar = path.join(shared, 'data/cifar10');
const SKIP_3 = skipNote(sharedAbsent('models/keras/mlperf-tiny/resnet8_cifar10.h5', 'data/cifar10'));
describe.skipIf(!existsSync(resnet8) || !existsSync(cifar))(`a reference model at chance level on the data${SKIP_3}`, () => {
  it('ResNet8 fed 0-1 pixels (it was trained on 0-255) scores at chance: the check refuses instead of passing any candidate', async () => {
    const out = path.join(tempDir(), 'c.onnx');
    const r = await mc('quantize', '--mode', 'fp16', '--dataset', 'cifar10', '--data-dir', cifar, resnet8, out);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/the input model itself scores [\d.]+% on cifar10-test \(chance is 10\.0%\).*check --scale/);
    expect(existsSync(out)).toBe(false);
    // Fed as trained, the same check measures the drop.
    const ok = await mc('quantize', '--mode', 'fp16', '--dataset', 'cifar10', '--data-dir', cifar, '--scale', '1', resnet8, out);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/verify accuracy on cifar10-test \(1000 samples\): 8\d\.\d\d% ->/);
  });
});
