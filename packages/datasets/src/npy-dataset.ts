import { basename, join } from 'node:path';
import { McError } from '@mc/ir';
import { ArrayDataset, type Dataset } from './dataset.js';
import { listDir, pick, readBytes } from './files.js';
import type { LoadOptions } from './mnist.js';
import { readNpy } from './npy.js';

/** Options of {@link loadNpy}. */
export interface NpyLoadOptions extends LoadOptions {
  /** Number of classes; default max label + 1. */
  numClasses?: number;
}

/**
 * Loads `x_<split>.npy` (samples `[N, ...]`, uint8 or float) and, when present, `y_<split>.npy` (integer labels `[N]`)
 * from `dir`. Byte samples are scaled by 1/255 at batch time; float samples are used as they are.
 *
 * @example
 * ```ts
 * const ds = await loadNpy('data/mine', { split: 'test', numClasses: 10 });
 * ```
 */
export async function loadNpy(dir: string, opts: NpyLoadOptions = {}): Promise<Dataset> {
  const split = opts.split ?? 'train';
  const xn = [`x_${split}.npy`, `${split}_x.npy`, `${split}_images.npy`];
  const yn = [`y_${split}.npy`, `${split}_y.npy`, `${split}_labels.npy`];
  const names = await listDir(dir, '.npy dataset', [xn[0]!, yn[0]!]);
  const xFile = pick(dir, names, xn, `.npy ${split} samples`);
  const yName = yn.find((n) => names.includes(n));
  const x = readNpy(await readBytes(xFile), xFile);
  if (x.shape.length < 2)
    throw new McError('E_FORMAT', `${xFile} has shape (${x.shape.join(', ')}); expected (N, ...) samples`, { context: { file: xFile } });
  let samples: Uint8Array | Float32Array;
  if (x.data instanceof Uint8Array) samples = x.data;
  else if (x.data instanceof Float32Array) samples = x.data;
  else if (x.data instanceof BigInt64Array)
    throw new McError('E_UNSUPPORTED', `${xFile} holds int64 samples; save them as uint8 or float32`, { context: { file: xFile } });
  else samples = Float32Array.from(x.data as ArrayLike<number>);
  const n = Math.min(x.shape[0]!, opts.limit ?? Infinity);
  const sampleSize = x.shape.slice(1).reduce((a, b) => a * b, 1);
  let labels: Int32Array | undefined;
  let file = xFile;
  if (yName !== undefined) {
    file = join(dir, yName);
    const y = readNpy(await readBytes(file), file);
    if (y.shape.length !== 1 || y.shape[0] !== x.shape[0]) {
      throw new McError(
        'E_FORMAT',
        `${basename(file)} has shape (${y.shape.join(', ')}); expected (${x.shape[0]},) integer labels matching ${basename(xFile)}`,
        { context: { file } },
      );
    }
    if (y.data instanceof Float32Array || y.data instanceof Float64Array) {
      throw new McError('E_FORMAT', `${basename(file)} holds float labels; save class indices as integers`, { context: { file } });
    }
    labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = Number(y.data[i]!);
  }
  let numClasses = opts.numClasses ?? 0;
  if (opts.numClasses === undefined && labels) for (const l of labels) numClasses = Math.max(numClasses, l + 1);
  return new ArrayDataset({
    name: `npy-${split}`,
    inputShape: x.shape.slice(1),
    numClasses,
    samples: samples.subarray(0, n * sampleSize),
    labels,
    file,
  });
}
