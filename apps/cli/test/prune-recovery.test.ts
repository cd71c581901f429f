import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedAbsent, skipNote } from '../../../test-support/shared.js';
import { mc, shared, tempDir } from './helpers.js';

// `mc prune --channels R --finetune` recovers by distillation from the unpruned model (PRUNE_RECOVERY_DEFAULTS in
// @mc/pipeline), with the dataset's augmentation. ResNet8 (MLPerf Tiny) on the 4,000 CIFAR-10 training images in
// ../shared, one epoch: the full-data measurement is bench/prune-cifar10.bench.mjs (docs/benchmarks.md).
const r8 = path.join(shared, 'models/keras/mlperf-tiny/resnet8_cifar10.h5');
const data = ['--dataset', 'cifar10', '--data-dir', path.join(shared, 'data/cifar10'), '--scale', '1'];
const missing = sharedAbsent('models/keras/mlperf-tiny/resnet8_cifar10.h5', 'data/cifar10');

async function top1(file: string): Promise<number> {
  const r = await mc('eval', ...data, file);
  expect(r.code, r.err).toBe(0);
  return Number(/top-1 [\d.]+% \((\d+)\/1000\)/.exec(r.out)![1]) / 1000;
}

describe.skipIf(missing !== undefined)(`prune --channels --finetune${skipNote(missing)}`, () => {
  it('distils the thinner ResNet8 from the unpruned model and beats the one-shot prune', async () => {
    const dir = tempDir();
    const oneShot = path.join(dir, 'one-shot.onnx');
    const tuned = path.join(dir, 'tuned.onnx');
    const a = await mc('prune', '--channels', '0.5', ...data, '--max-accuracy-drop', '100', r8, oneShot);
    expect(a.code, a.err).toBe(0);
    const b = await mc(
      'prune',
      '--channels',
      '0.5',
      '--finetune',
      '--epochs',
      '1',
      ...data,
      '--max-accuracy-drop',
      '100',
      '--json',
      r8,
      tuned,
    );
    expect(b.code, b.err).toBe(0);
    const report = JSON.parse(b.out);
    expect(report.technique).toBe('distill');
    expect(report.trainSamples).toBe(4000);
    const [before, after] = [await top1(oneShot), await top1(tuned)];
    expect(after).toBeGreaterThan(before + 0.05);
  }, 120_000);
});
