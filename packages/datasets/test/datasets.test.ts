import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McError } from '@mc/ir';
import { describe, expect, it } from 'vitest';
import { ArrayDataset, augmentFor, evaluate, layoutForInput, loadCifar10, loadDataset, loadMnist, loadNpy, readNpy } from '../src/index.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';
import { npyBytes } from '../../../test-support/npy.js';

const shared = sharedPath('data/');
const mnistDir = join(shared, 'mnist');
const cifarDir = join(shared, 'cifar10');
const haveMnist = existsSync(join(mnistDir, 't10k-images-idx3-ubyte.gz'));
const haveCifar = existsSync(join(cifarDir, 'test_batch_first1000.bin'));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (McError.is(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

describe.skipIf(!haveMnist)(`MNIST IDX${skipNote(sharedAbsent('data/mnist'))}`, () => {
  it('reads the test split: 10000 samples [1,28,28], labels 0..9, first label 7', async () => {
    const ds = await loadMnist(mnistDir, { split: 'test' });
    expect(ds.size).toBe(10000);
    expect(ds.inputShape).toEqual([1, 28, 28]);
    const it = ds.batches({ batchSize: 4 })[Symbol.asyncIterator]();
    const b = (await it.next()).value!;
    expect(b.dims).toEqual([4, 1, 28, 28]);
    expect([...b.labels]).toEqual([7, 2, 1, 0]); // the well-known first t10k labels
    expect(Math.max(...b.x)).toBeLessThanOrEqual(1);
    expect(Math.max(...b.x)).toBeGreaterThan(0.9);
  });

  it('streams flat and NHWC layouts with a limit and a short last batch', async () => {
    const ds = await loadMnist(mnistDir, { split: 'test', limit: 300 });
    const sizes: number[] = [];
    for await (const b of ds.batches({ batchSize: 128, layout: 'flat' })) sizes.push(b.dims[0]!), expect(b.dims[1]).toBe(784);
    expect(sizes).toEqual([128, 128, 44]);
    const nhwc = (await ds.batches({ batchSize: 2, layout: 'NHWC' })[Symbol.asyncIterator]().next()).value!;
    expect(nhwc.dims).toEqual([2, 28, 28, 1]);
  });
});

describe.skipIf(!haveCifar)(`CIFAR-10 binary${skipNote(sharedAbsent('data/cifar10'))}`, () => {
  it('reads the record layout: label byte then R, G, B planes', async () => {
    const ds = await loadCifar10(cifarDir, { split: 'test' });
    expect(ds.size).toBe(1000);
    expect(ds.inputShape).toEqual([3, 32, 32]);
    const counts = new Array(10).fill(0);
    for await (const b of ds.batches({ batchSize: 500 })) for (const l of b.labels) counts[l]++;
    expect(counts).toEqual([103, 89, 100, 103, 90, 86, 112, 102, 106, 109]); // from the README
    const first = (await ds.batches({ batchSize: 1 })[Symbol.asyncIterator]().next()).value!;
    expect(first.labels[0]).toBe(3); // test image 0 is a cat
    const nhwc = (await ds.batches({ batchSize: 1, layout: 'NHWC' })[Symbol.asyncIterator]().next()).value!;
    expect(nhwc.x[1]).toBe(first.x[1024]); // pixel 0 green channel
    const train = await loadDataset('cifar10', cifarDir, { split: 'train', limit: 100 });
    expect(train.size).toBe(100);
  });
});

describe('Dataset API', () => {
  const toy = (n = 10) =>
    new ArrayDataset({
      name: 'toy',
      inputShape: [1, 2, 3],
      numClasses: 3,
      samples: Float32Array.from({ length: n * 6 }, (_, i) => i),
      labels: Int32Array.from({ length: n }, (_, i) => i % 3),
    });

  it('seeded shuffling: same seed same order, new epoch new order, every sample once', async () => {
    const order = async (seed: number, epoch: number) => {
      const out: number[] = [];
      for await (const b of toy(50).batches({ batchSize: 7, shuffle: true, seed, epoch })) out.push(...b.indices);
      return out;
    };
    const a = await order(1, 0);
    expect(await order(1, 0)).toEqual(a);
    expect(await order(1, 1)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('augmentation: flip mirrors rows, crop shifts with zero fill, seeded', async () => {
    const ds = toy(1);
    const run = async (seed: number) =>
      (
        await ds
          .batches({ batchSize: 1, seed, augment: { crop: 1, flip: true } })
          [Symbol.asyncIterator]()
          .next()
      ).value!.x;
    expect([...(await run(3))]).toEqual([...(await run(3))]);
    const seen = new Set<string>();
    for (let s = 0; s < 40; s++) seen.add([...(await run(s))].join(','));
    expect(seen.size).toBeGreaterThan(5);
    expect(seen.has('2,1,0,5,4,3')).toBe(true); // pure flip
  });

  it('split is seeded and disjoint; withoutLabels hides labels', async () => {
    const [tr, va] = toy(100).split(0.2, 7);
    expect(tr.size + va.size).toBe(100);
    expect(va.size).toBe(20);
    const seen = new Set<number>();
    for (const d of [tr, va])
      for await (const b of d.batches({ batchSize: 100 })) for (const x of b.x.filter((_, i) => i % 6 === 0)) seen.add(x);
    expect(seen.size).toBe(100);
    const nl = toy(5).withoutLabels();
    expect(nl.hasLabels).toBe(false);
    for await (const b of nl.batches()) expect([...b.labels]).toEqual([-1, -1, -1, -1, -1]);
  });

  it('evaluate computes top-1 from a run callback', async () => {
    const ds = toy(9);
    const r = await evaluate(
      (b) => {
        const out = new Float32Array(b.labels.length * 3);
        b.labels.forEach((l, i) => (out[i * 3 + (i === 0 ? (l + 1) % 3 : l)] = 1)); // first of each batch wrong
        return out;
      },
      ds,
      { batchSize: 3 },
    );
    expect(r).toMatchObject({ correct: 6, total: 9, errors: 3 });
    expect(r.top1).toBeCloseTo(6 / 9);
  });

  it('layoutForInput matches model input shapes', () => {
    const img = new ArrayDataset({ name: 'img', inputShape: [3, 32, 32], numClasses: 10, samples: new Uint8Array(3072) });
    expect(layoutForInput(img, [null, 3, 32, 32])).toBe('NCHW');
    expect(layoutForInput(img, ['N', 32, 32, 3])).toBe('NHWC');
    expect(layoutForInput(img, [1, 3072])).toBe('flat');
    const grey = new ArrayDataset({ name: 'grey', inputShape: [1, 28, 28], numClasses: 10, samples: new Uint8Array(784) });
    expect(layoutForInput(grey, [null, 28, 28])).toBe('NHW');
  });
});

describe('bad input gives coded errors', () => {
  it('missing directory names the path and the expected file names', async () => {
    const msg = await codeOf(loadMnist('/nonexistent/mnist'));
    expect(msg).toMatch(/^E_IO: .*\/nonexistent\/mnist.*train-images-idx3-ubyte\.gz/);
    const dir = await mkdtemp(join(tmpdir(), 'mc-ds-'));
    expect(await codeOf(loadCifar10(dir, { split: 'test' }))).toMatch(/^E_IO: .*test_batch\.bin/);
    expect(await codeOf(loadDataset('imagenet', dir))).toMatch(/^E_OPTION/);
  });

  it('labels out of range', async () => {
    const msg = await codeOf(
      () => new ArrayDataset({ name: 'bad', inputShape: [2], numClasses: 2, samples: new Float32Array(4), labels: new Int32Array([0, 5]) }),
    );
    expect(msg).toMatch(/^E_FORMAT: label 5 of sample 1 .*out of range \[0, 2\)/);
  });

  it('wrong shape for the model input', async () => {
    const img = new ArrayDataset({ name: 'mnist-test', inputShape: [1, 28, 28], numClasses: 10, samples: new Uint8Array(784) });
    expect(await codeOf(() => layoutForInput(img, [null, 3, 32, 32], 'x'))).toMatch(
      /^E_FORMAT: model input 'x' expects \[\?, 3, 32, 32\] but dataset 'mnist-test' gives samples \[1, 28, 28\]/,
    );
  });

  it('.npy: reads float32/int64 and rejects big-endian and truncation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mc-npy-'));
    await writeFile(join(dir, 'x_test.npy'), npyBytes('<f4', [3, 2], new Float32Array([1, 2, 3, 4, 5, 6])));
    await writeFile(join(dir, 'y_test.npy'), npyBytes('<i8', [3], new BigInt64Array([0n, 1n, 2n])));
    const ds = await loadNpy(dir, { split: 'test' });
    expect(ds.size).toBe(3);
    expect(ds.numClasses).toBe(3);
    const b = (await ds.batches({ batchSize: 3 })[Symbol.asyncIterator]().next()).value!;
    expect([...b.x]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...b.labels]).toEqual([0, 1, 2]);
    expect(await codeOf(() => readNpy(npyBytes('>f4', [1], new Float32Array(1))))).toMatch(/^E_UNSUPPORTED/);
    expect(await codeOf(() => readNpy(npyBytes('<f4', [4], new Float32Array(2))))).toMatch(/^E_TRUNCATED/);
  });
});

it('augmentFor: crop and mirror for CIFAR-10 only (a mirrored digit is another glyph)', () => {
  expect(augmentFor({ name: 'cifar10-train' })).toEqual({ crop: 4, flip: true });
  expect(augmentFor({ name: 'mnist-train' })).toBeUndefined();
  expect(augmentFor({ name: 'npy-train' })).toBeUndefined();
});

it('public surface', async () => {
  expect(Object.keys(await import('../src/index.js')).sort()).toMatchInlineSnapshot(`
    [
      "ArrayDataset",
      "DATASET_KINDS",
      "DEFAULT_BYTE_SCALE",
      "argmaxRows",
      "augmentFor",
      "evaluate",
      "layoutForInput",
      "loadCifar10",
      "loadDataset",
      "loadMnist",
      "loadNamedFeeds",
      "loadNpy",
      "permutation",
      "perplexity",
      "readIdx",
      "readNpy",
      "seededRandom",
    ]
  `);
});
