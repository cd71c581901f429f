import { McError } from '@mc/ir';
import { augmentSample, type AugmentOptions } from './augment.js';
import { permutation, seededRandom } from './random.js';

/**
 * Memory layout of a batch: `NCHW` (ONNX), `NHWC` (Keras/TF), `flat` (`[N, C*H*W]` in C,H,W order, for MLPs), or `NHW`
 * (single-channel images without a channel axis, as Keras models with a Reshape after a [28, 28] input take them).
 */
export type BatchLayout = 'NCHW' | 'NHWC' | 'flat' | 'NHW';

/**
 * The scale byte images get when `scale` is unset (pixels 0..255 become 0..1); float data keeps scale 1. For CLIs
 * (`--help` shows it) and docs.
 * @example
 * ds.batches({ batchSize: 32, scale: DEFAULT_BYTE_SCALE });
 */
export const DEFAULT_BYTE_SCALE = 1 / 255;

/**
 * How to cut a dataset into batches.
 *
 * @example
 * ```ts
 * const opts: BatchOptions = { batchSize: 128, shuffle: true, seed: 1, layout: 'NCHW', augment: { crop: 4, flip: true } };
 * ```
 */
export interface BatchOptions {
  /** Samples per batch (the last one may be smaller unless `dropLast`). Default 32. */
  batchSize?: number;
  /** Visit samples in a seeded random order. Default false. */
  shuffle?: boolean;
  /** Seed for shuffling and augmentation. Default 0. */
  seed?: number;
  /** Epoch number, mixed into the seed so every epoch gets a new order with the same `seed`. Default 0. */
  epoch?: number;
  /** Default 'NCHW'. */
  layout?: BatchLayout;
  /** Multiplies the stored values: default 1/255 for byte images, 1 for float data. */
  scale?: number;
  /** Per-channel mean subtracted after `scale` (then divided by `std`). */
  mean?: readonly number[];
  /** Per-channel standard deviation, used with `mean`. */
  std?: readonly number[];
  /** Use only the first `limit` samples (before shuffling). */
  limit?: number;
  /** Seeded augmentation (images only). */
  augment?: AugmentOptions;
  /** Drop a last batch smaller than `batchSize`. Default false. */
  dropLast?: boolean;
}

/**
 * One batch: `x` in the requested layout, `labels` (or -1 where the dataset has no labels), and the sample indices.
 */
export interface Batch {
  readonly x: Float32Array;
  readonly dims: readonly number[];
  readonly labels: Int32Array;
  readonly indices: Int32Array;
}

/**
 * A labelled (or unlabelled) set of samples that streams batches.
 *
 * @example
 * ```ts
 * const ds = await loadMnist('../shared/data/mnist', { split: 'test' });
 * for await (const b of ds.batches({ batchSize: 256, limit: 1000 })) run(b.x, b.dims);
 * ```
 */
export interface Dataset {
  readonly name: string;
  readonly size: number;
  /** Shape of one sample: `[C, H, W]` for images, `[D]` for vectors. */
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly hasLabels: boolean;
  batches(opts?: BatchOptions): AsyncIterable<Batch>;
  /** The samples at `indices`, as a new dataset sharing the storage. */
  subset(indices: ArrayLike<number>, name?: string): Dataset;
  /** A seeded split into `[rest, held-out]`, the held-out part holding `fraction` of the samples. */
  split(fraction: number, seed?: number): [Dataset, Dataset];
  /** The same samples with labels hidden (every label -1): for label-free distillation. */
  withoutLabels(): Dataset;
}

/** Storage for {@link ArrayDataset}: samples row-major in C,H,W order. */
export interface ArrayDatasetInit {
  name: string;
  inputShape: readonly number[];
  numClasses: number;
  /** `size * prod(inputShape)` values. Bytes are scaled by 1/255 by default. */
  samples: Uint8Array | Float32Array;
  /** One label per sample, or undefined for an unlabelled set. */
  labels?: Int32Array | Uint8Array | undefined;
  /** Where the data came from, for error messages. */
  file?: string;
}

/**
 * An in-memory dataset over typed arrays; batches are assembled lazily, one at a time.
 *
 * @example
 * ```ts
 * const ds = new ArrayDataset({ name: 'toy', inputShape: [4], numClasses: 2, samples: new Float32Array(40), labels: new Int32Array(10) });
 * ```
 */
export class ArrayDataset implements Dataset {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly numClasses: number;
  readonly size: number;
  readonly hasLabels: boolean;
  readonly #samples: Uint8Array | Float32Array;
  readonly #labels: Int32Array | Uint8Array | undefined;
  readonly #index: Int32Array | undefined;
  readonly #sampleSize: number;

  constructor(init: ArrayDatasetInit, index?: Int32Array, hideLabels = false) {
    this.name = init.name;
    this.inputShape = Object.freeze([...init.inputShape]);
    this.numClasses = init.numClasses;
    this.#sampleSize = init.inputShape.reduce((a, b) => a * b, 1);
    this.#samples = init.samples;
    this.#labels = hideLabels ? undefined : init.labels;
    this.hasLabels = this.#labels !== undefined;
    this.#index = index;
    const total = Math.floor(init.samples.length / this.#sampleSize);
    const ctx = init.file ? { file: init.file } : {};
    if (index === undefined) {
      if (total * this.#sampleSize !== init.samples.length) {
        throw new McError(
          'E_FORMAT',
          `dataset '${init.name}' holds ${init.samples.length} values, not a multiple of the sample shape [${init.inputShape.join(', ')}]; check the input shape`,
          { context: ctx },
        );
      }
      if (init.labels !== undefined) {
        if (init.labels.length !== total) {
          throw new McError(
            'E_FORMAT',
            `dataset '${init.name}' has ${total} samples but ${init.labels.length} labels; pass the matching label file`,
            { context: ctx },
          );
        }
        for (let i = 0; i < init.labels.length; i++) {
          const l = init.labels[i]!;
          if (!(l >= 0 && l < init.numClasses)) {
            throw new McError(
              'E_FORMAT',
              `label ${l} of sample ${i} in dataset '${init.name}' is out of range [0, ${init.numClasses}); pass the right label file or numClasses`,
              { context: ctx },
            );
          }
        }
      }
    }
    this.size = index === undefined ? total : index.length;
    this.#init = init;
  }

  readonly #init: ArrayDatasetInit;

  subset(indices: ArrayLike<number>, name?: string): Dataset {
    const idx = new Int32Array(indices.length);
    for (let i = 0; i < idx.length; i++) {
      const j = indices[i]!;
      if (!(j >= 0 && j < this.size))
        throw new McError('E_OPTION', `subset index ${j} is out of range [0, ${this.size}) for dataset '${this.name}'`);
      idx[i] = this.#index === undefined ? j : this.#index[j]!;
    }
    return new ArrayDataset({ ...this.#init, name: name ?? this.name }, idx, !this.hasLabels);
  }

  split(fraction: number, seed = 0): [Dataset, Dataset] {
    if (!(fraction > 0 && fraction < 1))
      throw new McError('E_OPTION', `split fraction must be in (0, 1), got ${fraction}; e.g. 0.1 for a 10% validation split`);
    const p = permutation(this.size, seed ^ 0x5eed);
    const nHeld = Math.max(1, Math.round(this.size * fraction));
    const held = Array.from(p.subarray(0, nHeld)).sort((a, b) => a - b);
    const rest = Array.from(p.subarray(nHeld)).sort((a, b) => a - b);
    return [this.subset(rest, `${this.name}[train]`), this.subset(held, `${this.name}[val]`)];
  }

  withoutLabels(): Dataset {
    return new ArrayDataset(this.#init, this.#index, true);
  }

  async *batches(opts: BatchOptions = {}): AsyncGenerator<Batch> {
    const batchSize = opts.batchSize ?? 32;
    if (!(Number.isInteger(batchSize) && batchSize > 0))
      throw new McError('E_OPTION', `batchSize must be a positive integer, got ${batchSize}`);
    const layout = opts.layout ?? 'NCHW';
    const n = Math.min(this.size, opts.limit ?? this.size);
    const seed = ((opts.seed ?? 0) * 1000003 + (opts.epoch ?? 0) * 7919) >>> 0;
    const order = opts.shuffle ? permutation(n, seed) : undefined;
    const rnd = seededRandom(seed ^ 0xa11ce);
    const isImage = this.inputShape.length === 3;
    if (opts.augment && !isImage && (opts.augment.crop || opts.augment.flip)) {
      throw new McError(
        'E_OPTION',
        `augmentation needs image samples [C, H, W]; dataset '${this.name}' has samples [${this.inputShape.join(', ')}]`,
      );
    }
    const [C, H, W] = isImage ? (this.inputShape as [number, number, number]) : [1, 1, this.#sampleSize];
    if (layout === 'NHWC' && !isImage)
      throw new McError(
        'E_OPTION',
        `layout NHWC needs image samples [C, H, W]; dataset '${this.name}' has samples [${this.inputShape.join(', ')}]`,
      );
    if (layout === 'NHW' && !(isImage && C === 1))
      throw new McError(
        'E_OPTION',
        `layout NHW needs single-channel images [1, H, W]; dataset '${this.name}' has samples [${this.inputShape.join(', ')}]`,
      );
    const scale = opts.scale ?? (this.#samples instanceof Uint8Array ? DEFAULT_BYTE_SCALE : 1);
    const mean = opts.mean;
    const std = opts.std;
    if (mean && mean.length !== C && mean.length !== 1)
      throw new McError('E_OPTION', `mean has ${mean.length} values, dataset '${this.name}' has ${C} channels`);
    const S = this.#sampleSize;
    const tmp = new Float32Array(S);
    const labels = this.#labels;
    for (let start = 0; start < n; start += batchSize) {
      const b = Math.min(batchSize, n - start);
      if (b < batchSize && opts.dropLast) break;
      const x = new Float32Array(b * S);
      const lab = new Int32Array(b);
      const indices = new Int32Array(b);
      for (let i = 0; i < b; i++) {
        const local = order ? order[start + i]! : start + i;
        const src = this.#index ? this.#index[local]! : local;
        indices[i] = local;
        lab[i] = labels ? labels[src]! : -1;
        const off = src * S;
        for (let k = 0; k < S; k++) tmp[k] = this.#samples[off + k]! * scale;
        if (mean) {
          for (let c = 0; c < C; c++) {
            const m = mean.length === 1 ? mean[0]! : mean[c]!;
            const sd = std ? (std.length === 1 ? std[0]! : std[c]!) : 1;
            for (let k = c * H * W; k < (c + 1) * H * W; k++) tmp[k] = (tmp[k]! - m) / sd;
          }
        }
        const sample = opts.augment && isImage ? augmentSample(tmp, C, H, W, opts.augment, rnd) : tmp;
        if (layout === 'NHWC') {
          const o = i * S;
          for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) x[o + p * C + c] = sample[c * H * W + p]!;
        } else {
          x.set(sample, i * S);
        }
      }
      const dims = layout === 'flat' ? [b, S] : layout === 'NHWC' ? [b, H, W, C] : layout === 'NHW' ? [b, H, W] : [b, ...this.inputShape];
      yield { x, dims, labels: lab, indices };
    }
  }
}
