import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sharedAbsent, skipNote } from '../../../test-support/shared.js';
import { mc, shared, tempDir } from './helpers.js';

// `mc prune --channels R --finetune` recovers by fine-tuning on the labels with a cosine schedule and the dataset's
// augmentation (PRUNE_RECOVERY_DEFAULTS in @mc/pipeline); unlabelled data is distilled from the unpruned model. ResNet8 (MLPerf Tiny) on the 4,000 CIFAR-10 training images in
// ../shared, three epochs: the full-data measurement is bench/prune-cifar10.bench.mjs (docs/benchmarks.md).
const r8 = path.join(shared, 'models/keras/mlperf-tiny/resnet8_cifar10.h5');
const data = ['--dataset', 'cifar10', '--data-dir', path.join(shared, 'data/cifar10'), '--scale', '1'];
const missing = sharedAbsent('models/keras/mlperf-tiny/resnet8_cifar10.h5', 'data/cifar10');

async function top1(file: string): Promise<number> {
  const r = await mc('eval', ...data, file);
  expect(r.code, r.err).toBe(0);
  return Number(/top-1 [\d.]+% \((\d+)\/1000\)/.exec(r.out)![1]) / 1000;
}

describe.skipIf(missing !== undefined)(`prune --channels --finetune${skipNote(missing)}`, () => {
  it('fine-tunes the thinner ResNet8 on the labels and beats the one-shot prune', async () => {
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
      '3',
      ...data,
      '--max-accuracy-drop',
      '100',
      '--json',
      r8,
      tuned,
    );
    expect(b.code, b.err).toBe(0);
    const report = JSON.parse(b.out);
    expect(report.technique).toBe('finetune');
    expect(report.trainSamples).toBe(4000);
    const [before, after] = [await top1(oneShot), await top1(tuned)];
    expect(after).toBeGreaterThan(before + 0.2); // 3 epochs on 4,000 images: 7 % → about 40 %
  }, 120_000);
});
