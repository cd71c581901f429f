import { McError } from '@mc/ir';
import { ArrayDataset, type Dataset } from './dataset.js';
import { listDir, pick, readBytes } from './files.js';
import { readIdx } from './idx.js';

/** Which half of a dataset to load. */
export type Split = 'train' | 'test';

/** Options of {@link loadMnist} / {@link loadCifar10}. */
export interface LoadOptions {
  /** Default 'train'. */
  split?: Split;
  /** Keep only the first `limit` samples (saves memory and time in tests). */
  limit?: number;
}

const mnistNames = (split: Split, kind: 'images' | 'labels'): string[] => {
  const stem = split === 'train' ? 'train' : 't10k';
  const idx = kind === 'images' ? 'idx3' : 'idx1';
  return [
    `${stem}-${kind}-${idx}-ubyte.gz`,
    `${stem}-${kind}-${idx}-ubyte`,
    `${stem}-${kind}.${idx}-ubyte`,
    `${stem}-${kind}.${idx}-ubyte.gz`,
  ];
};

/**
 * Loads MNIST from the original IDX files (gzip or plain) in `dir`: samples `[1, 28, 28]` bytes, 10 classes.
 *
 * @example
 * ```ts
 * const test = await loadMnist('../shared/data/mnist', { split: 'test' }); // size 10000
 * ```
 */
export async function loadMnist(dir: string, opts: LoadOptions = {}): Promise<Dataset> {
  const split = opts.split ?? 'train';
  const imgNames = mnistNames(split, 'images');
  const labNames = mnistNames(split, 'labels');
  const names = await listDir(dir, 'MNIST', [imgNames[0]!, labNames[0]!]);
  const imgFile = pick(dir, names, imgNames, `MNIST ${split} images`);
  const labFile = pick(dir, names, labNames, `MNIST ${split} labels`);
  const images = readIdx(await readBytes(imgFile), imgFile);
  const labels = readIdx(await readBytes(labFile), labFile);
  if (images.dims.length !== 3)
    throw new McError('E_FORMAT', `MNIST images in ${imgFile} have dims [${images.dims.join(', ')}], expected [N, 28, 28]`, {
      context: { file: imgFile },
    });
  const [n, h, w] = images.dims as [number, number, number];
  if (labels.dims.length !== 1 || labels.dims[0] !== n) {
    throw new McError('E_FORMAT', `MNIST labels in ${labFile} have dims [${labels.dims.join(', ')}], expected [${n}] to match ${imgFile}`, {
      context: { file: labFile },
    });
  }
  const m = Math.min(n, opts.limit ?? n);
  return new ArrayDataset({
    name: `mnist-${split}`,
    inputShape: [1, h, w],
    numClasses: 10,
    samples: images.data.subarray(0, m * h * w),
    labels: labels.data.subarray(0, m),
    file: labFile,
  });
}
