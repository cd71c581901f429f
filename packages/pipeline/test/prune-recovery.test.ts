import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMnist } from '@mc/datasets';
import { loadOnnx } from '@mc/io-onnx';
import { describe, expect, it } from 'vitest';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';
import { PRUNE_RECOVERY_DEFAULTS, pipeline, pruneFinetuneFlow } from '../src/index.js';

// The recovery after pruning (PRUNE_RECOVERY_DEFAULTS): labels when the data has them, else distillation from the
// unpruned input; magnitude pruning keeps its zeros either way. One short epoch of the bundled MNIST MLP on 256 MNIST
// images: what is checked is which recipe ran, not the accuracy (bench/prune-cifar10.bench.mjs measures that).
const mlp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/models/mnist-mlp.onnx');
const missing = sharedAbsent('data/mnist');

describe.skipIf(missing !== undefined)(`pruneFinetuneFlow${skipNote(missing)}`, () => {
  const load = async () => ({
    model: await loadOnnx(mlp),
    train: await loadMnist(sharedPath('data/mnist'), { split: 'train', limit: 256 }),
  });
  const quick = { epochs: 1, threads: 1 } as const;

  it('channels: fine-tunes on the labels with the default schedule and learning rate; without labels it distils', async () => {
    const { model, train } = await load();
    expect(PRUNE_RECOVERY_DEFAULTS.schedule).toBe('cosine');
    const lrs: number[] = [];
    const onProgress = (e: { type: string; lr: number }) => void (e.type === 'step' && lrs.push(e.lr));
    const labelled = await pruneFinetuneFlow(model, { mode: 'channels', ratio: 0.5 }, train, { ...quick, onProgress });
    expect(labelled.report.technique).toBe('finetune');
    expect(lrs[0]).toBeCloseTo(PRUNE_RECOVERY_DEFAULTS.learningRate, 8); // cosine from the default rate
    expect(lrs.at(-1)!).toBeLessThan(lrs[0]! / 2);
    expect(labelled.pruned.after.params).toBeLessThan(labelled.pruned.before.params);
    const unlabelled = await pruneFinetuneFlow(model, { mode: 'channels', ratio: 0.5 }, train.withoutLabels(), quick);
    expect(unlabelled.report.technique).toBe('distill');
  }, 120_000);

  it("a recipe's prune step refits on the pipeline's data with reconstruct: true", async () => {
    const { model, train } = await load();
    const step = { step: 'prune', options: { mode: 'channels', ratio: 0.5, reconstruct: true, calibrationSamples: 128 } } as const;
    const r = await pipeline(model, [step], { data: train, verify: false });
    const report = r.steps[0]!.report as { reconstruct?: { samples: number; layers: { before: number; after: number }[] } };
    expect(report.reconstruct?.samples).toBe(128);
    expect(report.reconstruct!.layers.length).toBeGreaterThan(0);
    for (const l of report.reconstruct!.layers) expect(l.after).toBeLessThan(l.before);
    const magnitude = { step: 'prune', options: { mode: 'magnitude', sparsity: 0.5, reconstruct: true } } as const;
    await expect(pipeline(model, [magnitude], { data: train, verify: false })).rejects.toThrow(/reconstruct\) needs mode 'channels'/);
  }, 60_000);

  it('magnitude without labels: distils with the zeros held', async () => {
    const { model, train } = await load();
    const r = await pruneFinetuneFlow(model, { mode: 'magnitude', sparsity: 0.5, storage: 'dense' }, train.withoutLabels(), quick);
    expect(r.report.technique).toBe('distill');
    expect(r.report.masked.length).toBeGreaterThan(0);
  }, 120_000);
});
