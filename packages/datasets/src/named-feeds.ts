import { join } from 'node:path';
import { McError, Tensor } from '@mc/ir';
import { listDir, readBytes } from './files.js';
import { type NpyArray, readNpy } from './npy.js';

/** Named input tensors for one model run. */
export type NamedFeeds = Record<string, Tensor>;

/** Options of {@link loadNamedFeeds}. */
export interface NamedFeedsOptions {
  /** Rows per batch (default 16). */
  batchSize?: number;
  /** Use at most this many rows. */
  limit?: number;
}

function toTensor(a: NpyArray, rows: [number, number], file: string): Tensor {
  const [start, end] = rows;
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const dims = [end - start, ...a.shape.slice(1)];
  const slice = <T extends { subarray(s: number, e: number): T }>(d: T): T => d.subarray(start * per, end * per);
  switch (a.dtype) {
    case 'int64':
      return new Tensor('int64', dims, slice(a.data as BigInt64Array));
    case 'int32':
      return new Tensor('int32', dims, slice(a.data as Int32Array));
    case 'float32':
      return new Tensor('float32', dims, slice(a.data as Float32Array));
    case 'uint8':
      return new Tensor('uint8', dims, slice(a.data as Uint8Array));
    case 'bool':
      return new Tensor('bool', dims, slice(a.data as Uint8Array));
    default:
      throw new McError('E_UNSUPPORTED', `${file} holds ${a.dtype}; save model inputs as int64, int32, float32, uint8 or bool`, {
        context: { file },
      });
  }
}

/**
 * Batches of model feeds from a folder holding one `.npy` file per model input, named after it (`input_ids.npy`,
 * `attention_mask.npy`, …), each `[N, ...]` with the same N: the calibration data of models whose inputs are not
 * images (token ids for transformers). Inputs without a file are an error that names them.
 *
 * @example
 * ```ts
 * const batches = await loadNamedFeeds('calib', ['input_ids'], { batchSize: 16 });
 * ```
 */
export async function loadNamedFeeds(dir: string, inputNames: readonly string[], opts: NamedFeedsOptions = {}): Promise<NamedFeeds[]> {
  const names = await listDir(
    dir,
    'model input',
    inputNames.map((n) => `${n}.npy`),
  );
  const arrays = new Map<string, { a: NpyArray; file: string }>();
  for (const input of inputNames) {
    if (!names.includes(`${input}.npy`)) {
      throw new McError(
        'E_IO',
        `'${dir}' has no ${input}.npy; the model's inputs are ${inputNames.join(', ')}: save one [N, ...] array per input, named after it`,
        { context: { file: dir } },
      );
    }
    const file = join(dir, `${input}.npy`);
    const a = readNpy(await readBytes(file), file);
    if (a.shape.length < 1) throw new McError('E_FORMAT', `${file} is a scalar; expected [N, ...] rows`, { context: { file } });
    arrays.set(input, { a, file });
  }
  const counts = [...arrays.values()].map(({ a }) => a.shape[0]!);
  const n = Math.min(...counts, opts.limit ?? Infinity);
  if (counts.some((c) => c !== counts[0])) {
    throw new McError(
      'E_FORMAT',
      `the input files in '${dir}' have different row counts (${[...arrays].map(([k, { a }]) => `${k}: ${a.shape[0]}`).join(', ')}); every input needs the same N`,
      { context: { file: dir } },
    );
  }
  const bs = opts.batchSize ?? 16;
  const out: NamedFeeds[] = [];
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    const feeds: NamedFeeds = {};
    for (const [k, { a, file }] of arrays) feeds[k] = toTensor(a, [s, e], file);
    out.push(feeds);
  }
  return out;
}
