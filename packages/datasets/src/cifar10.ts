import { McError } from '@mc/ir';
import { ArrayDataset, type Dataset } from './dataset.js';
import { listDir, readBytes } from './files.js';
import type { LoadOptions } from './mnist.js';

/** Bytes per CIFAR-10 binary record: `<1 label byte><1024 R><1024 G><1024 B>` (https://www.cs.toronto.edu/~kriz/cifar.html). */
const RECORD = 1 + 3 * 32 * 32;

/**
 * Loads CIFAR-10 binary batches from `dir` (or its `cifar-10-batches-bin/` child): `data_batch_*.bin` for 'train',
 * `test_batch*.bin` for 'test', in name order. Samples `[3, 32, 32]` bytes, 10 classes.
 *
 * @example
 * ```ts
 * const test = await loadCifar10('../shared/data/cifar10', { split: 'test' });
 * ```
 */
export async function loadCifar10(dir: string, opts: LoadOptions = {}): Promise<Dataset> {
  const split = opts.split ?? 'train';
  const expected = split === 'train' ? 'data_batch_1.bin … data_batch_5.bin' : 'test_batch.bin';
  let names = await listDir(dir, 'CIFAR-10', [expected]);
  let root = dir;
  if (names.includes('cifar-10-batches-bin')) {
    root = `${dir}/cifar-10-batches-bin`;
    names = await listDir(root, 'CIFAR-10', [expected]);
  }
  const re = split === 'train' ? /^data_batch_\d.*\.bin$/ : /^test_batch.*\.bin$/;
  const files = names.filter((n) => re.test(n)).map((n) => `${root}/${n}`);
  if (files.length === 0) {
    throw new McError(
      'E_IO',
      `CIFAR-10 ${split} batches not found in '${dir}': expected ${expected} (binary version); found ${names.slice(0, 8).join(', ') || 'no files'}`,
      { context: { file: dir } },
    );
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  const limit = opts.limit ?? Infinity;
  for (const f of files) {
    if (total >= limit) break;
    const bytes = await readBytes(f);
    if (bytes.length % RECORD !== 0) {
      throw new McError(
        'E_TRUNCATED',
        `CIFAR-10 file ${f} holds ${bytes.length} bytes, not a multiple of the ${RECORD}-byte record; download it again`,
        { context: { file: f } },
      );
    }
    parts.push(bytes);
    total += bytes.length / RECORD;
  }
  const n = Math.min(total, limit);
  const samples = new Uint8Array(n * (RECORD - 1));
  const labels = new Int32Array(n);
  let i = 0;
  for (const bytes of parts) {
    for (let r = 0; r < bytes.length / RECORD && i < n; r++, i++) {
      labels[i] = bytes[r * RECORD]!;
      samples.set(bytes.subarray(r * RECORD + 1, (r + 1) * RECORD), i * (RECORD - 1));
    }
  }
  return new ArrayDataset({ name: `cifar10-${split}`, inputShape: [3, 32, 32], numClasses: 10, samples, labels, file: files[0]! });
}
