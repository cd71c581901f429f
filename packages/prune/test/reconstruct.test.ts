import { type Dataset, evaluate, loadCifar10 } from '@mc/datasets';
import { type Feeds, type Model, Tensor } from '@mc/ir';
import { countOps, randomFeeds } from '@mc/ir/testing';
import { assertNumericallyClose, createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';
import { prune, reconstruct } from '../src/index.js';
import { DeadChannelNet } from './models.js';

const errorCode = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
  );

describe('reconstruct (least-squares refit after a channel prune)', () => {
  it('leaves an exact prune exact: dead channels removed, every layer already reproduces the unpruned outputs', async () => {
    const model = new DeadChannelNet(21).build('gap');
    const calibration = [randomFeeds(model, 1), randomFeeds(model, 2)];
    const r = await prune(model, { mode: 'channels', ratio: 0.25, calibration });
    const layers = r.report.reconstruct!.layers;
    expect(layers.length).toBeGreaterThan(0);
    for (const l of layers) expect(l.before).toBeLessThan(1e-4);
    await assertNumericallyClose(model, r.model, { feeds: randomFeeds(model, 3), atol: 1e-4, minCosine: 0.99999 });
  }, 60_000);

  it('refuses what it cannot refit, naming the fix', async () => {
    const model = new DeadChannelNet(22).build('gap');
    const calibration = [randomFeeds(model, 1)];
    const magnitude = await prune(model, { mode: 'magnitude', sparsity: 0.5, storage: 'dense' });
    expect(await errorCode(reconstruct(model, magnitude, { calibration }))).toMatch(/^E_OPTION: .*channel prune/);
    const withCalibration = { mode: 'magnitude', sparsity: 0.5, calibration } as unknown as Parameters<typeof prune>[1];
    expect(await errorCode(prune(model, withCalibration))).toMatch(/^E_OPTION: .*needs mode 'channels'/);
    const folded = await prune(model, { mode: 'channels', ratio: 0.25, foldBatchNorm: true });
    expect(await errorCode(reconstruct(model, folded, { calibration }))).toMatch(/^E_OPTION: .*without foldBatchNorm/);
    const thin = await prune(model, { mode: 'channels', ratio: 0.25 });
    expect(await errorCode(reconstruct(model, thin, { calibration: [] }))).toMatch(/^E_OPTION: .*no feeds/);
    expect(await errorCode(reconstruct(model, thin, { calibration, ridge: -1 }))).toMatch(/^E_OPTION: .*ridge/);
    // One row per sample: fewer rows than twice the unknowns leaves every layer as it was, saying why.
    const few = await reconstruct(model, thin, { calibration, rowsPerUnknown: 0 });
    expect(few.report.layers).toEqual([]);
    expect(few.report.skipped.length).toBeGreaterThan(0);
    for (const s of few.report.skipped) expect(s.reason).toMatch(/calibration rows for \d+ unknowns per output channel; pass more samples/);
  });
});

// ResNet8 (MLPerf Tiny) and the CIFAR-10 files in ../shared: 512 training images calibrate, 1,000 test images judge.
const missing = sharedAbsent('models/keras/mlperf-tiny/resnet8_cifar10.h5', 'data/cifar10');

describe.skipIf(missing !== undefined)(`reconstruct on ResNet8 with CIFAR-10${skipNote(missing)}`, () => {
  const feedsOf = async (data: Dataset, name: string, limit: number) => {
    const out: Feeds[] = [];
    for await (const b of data.batches({ batchSize: 128, limit, layout: 'NHWC', scale: 1 }))
      out.push({ [name]: new Tensor('float32', b.dims, b.x) });
    return out;
  };
  const top1 = async (m: Model, test: Dataset) => {
    const s = await createSession(m);
    const name = m.graph.inputs[0]!.name;
    const r = await evaluate(
      async (b) => Object.values(await s.run({ [name]: new Tensor('float32', b.dims, b.x) }))[0]!.data as Float32Array,
      test,
      {
        batchSize: 500,
        layout: 'NHWC',
        scale: 1,
      },
    );
    await s.release();
    return r.top1;
  };

  it('brings a 25 % channel prune back from near chance without training; folding afterwards keeps it', async () => {
    const { loadKeras } = (await import('@mc/io-keras')) as { loadKeras(p: string): Promise<Model> };
    const model = await loadKeras(sharedPath('models/keras/mlperf-tiny/resnet8_cifar10.h5'));
    const train = await loadCifar10(sharedPath('data/cifar10'), { split: 'train' });
    const test = await loadCifar10(sharedPath('data/cifar10'), { split: 'test' });
    const calibration = await feedsOf(train, model.graph.inputs[0]!.name, 512);
    const plain = await prune(model, { mode: 'channels', ratio: 0.25 });
    const refit = await prune(model, { mode: 'channels', ratio: 0.25, calibration });
    const report = refit.report.reconstruct!;
    expect(report.samples).toBe(512);
    expect(report.skipped).toEqual([]);
    // Every layer that reads removed channels: 8 Conv and the Dense MatMul.
    expect(report.layers.map((l) => l.opType).sort()).toEqual([...Array(8).fill('Conv'), 'MatMul']);
    for (const l of report.layers) expect(l.after).toBeLessThan(l.before);
    expect(refit.report.after.params).toBe(plain.report.after.params);
    const [a, b] = [await top1(plain.model, test), await top1(refit.model, test)];
    // Measured on these 1,000 images: about 0.2 one-shot, about 0.7 refitted.
    expect(a).toBeLessThan(0.35);
    expect(b).toBeGreaterThan(a + 0.3);
    const folded = await prune(model, { mode: 'channels', ratio: 0.25, calibration, foldBatchNorm: true });
    expect(countOps(folded.model).BatchNormalization ?? 0).toBe(0);
    await assertNumericallyClose(refit.model, folded.model, { feeds: calibration[0]!, atol: 1e-3, minCosine: 0.99999 });
  }, 180_000);
});
