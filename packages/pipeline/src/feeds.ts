import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type Dataset, type DatasetKind, layoutForInput, loadDataset, loadNamedFeeds } from '@mc/datasets';
import { type Feeds, McError, type Model, Tensor } from '@mc/ir';

/** Named input tensors of one model run (the `@mc/ir` type). */
export type { Feeds };

/** How dataset samples become model inputs. */
export interface FeedOptions {
  /** Samples to use (default 256). */
  limit?: number;
  /** Samples per batch (default 64). */
  batchSize?: number;
  /** Multiplies stored values: default 1/255 for byte images (pass 1 for models trained on raw 0..255 pixels). */
  scale?: number;
}

/**
 * What {@link feedsFrom} uses for an unset limit and batch size: for CLIs (`--calibration-size`) and docs.
 * @example
 * feedsFrom(mnist, model, { limit: FEED_DEFAULTS.limit });
 */
export const FEED_DEFAULTS = { limit: 256, batchSize: 64 } as const satisfies Required<Pick<FeedOptions, 'limit' | 'batchSize'>>;

/**
 * Streams dataset batches as feeds for a single-input model, in the layout its input expects (NCHW, NHWC or flat).
 *
 * @example
 * ```ts
 * for await (const feeds of feedsFrom(mnist, model, { limit: 128 })) await session.run(feeds);
 * ```
 */
export async function* feedsFrom(data: Dataset, model: Model, opts: FeedOptions = {}): AsyncGenerator<Feeds> {
  const inputs = model.graph.inputs.filter((v) => v.constValue === undefined);
  const [input] = inputs;
  if (inputs.length !== 1 || input === undefined) {
    throw new McError('E_UNSUPPORTED', `--dataset feeds models with one input; this model has ${inputs.length}`);
  }
  const layout = layoutForInput(data, input.shape, input.name);
  const batchSize = opts.batchSize ?? FEED_DEFAULTS.batchSize;
  const fixedBatch = typeof input.shape?.[0] === 'number' ? input.shape[0] : undefined;
  // A model with a fixed batch dimension cannot take a short last batch.
  const batches = data.batches({
    batchSize: fixedBatch ?? batchSize,
    limit: opts.limit ?? FEED_DEFAULTS.limit,
    layout,
    dropLast: fixedBatch !== undefined,
    ...(opts.scale !== undefined && { scale: opts.scale }),
  });
  for await (const b of batches) yield { [input.name]: new Tensor('float32', [...b.dims], b.x) };
}

/** Collects a few feeds in memory (for verification, which runs two models on the same inputs). */
export async function collectFeeds(it: AsyncIterable<Feeds>, max = Infinity): Promise<Feeds[]> {
  const out: Feeds[] = [];
  for await (const f of it) {
    out.push(f);
    if (out.length >= max) break;
  }
  return out;
}

/**
 * The model's feeds as stored in `dir`, one `<input name>.npy` (`[N, ...]`) per graph input, in batches of 16, or
 * undefined when the folder does not hold one for every input: sample inputs of models that take more than images
 * (token ids, masks, inputs normalised their own way).
 */
export async function namedFeeds(model: Model, dir: string, limit: number = FEED_DEFAULTS.limit): Promise<Feeds[] | undefined> {
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer()).map((v) => v.name);
  if (!inputs.every((n) => existsSync(join(dir, `${n}.npy`)))) return undefined;
  return loadNamedFeeds(dir, inputs, { batchSize: 16, limit });
}

/** Where calibration samples come from: a dataset on disk, read for the model's inputs. */
export interface CalibrationData {
  /** Dataset kind; 'npy' with one `<input name>.npy` per model input gives the feeds as stored (token models). */
  readonly dataset: DatasetKind;
  /** Folder holding the dataset files. */
  readonly dir: string;
  /** Split the images are read from (default 'train'). */
  readonly split?: 'train' | 'test';
  /** Samples to use (default {@link FEED_DEFAULTS}.limit). */
  readonly limit?: number;
  /** Samples per batch of an image dataset (default {@link FEED_DEFAULTS}.batchSize; named `.npy` inputs: 16). */
  readonly batchSize?: number;
  /** Multiplies stored pixel values (see {@link FeedOptions.scale}). */
  readonly scale?: number;
}

/**
 * Calibration feeds, in memory, from a dataset on disk: a folder with one `.npy` per model input (`input_ids.npy`, …)
 * gives them as they are; otherwise the images are laid out for the model's single input ({@link feedsFrom}). The one
 * place calibration batches are built for `quantize` and data-aware `factorize`.
 *
 * @example
 * ```ts
 * const calibration = await calibrationFeeds(model, { dataset: 'mnist', dir: 'data/mnist', limit: 256 });
 * ```
 */
export async function calibrationFeeds(model: Model, d: CalibrationData): Promise<Feeds[]> {
  const limit = d.limit ?? FEED_DEFAULTS.limit;
  if (d.dataset === 'npy') {
    const named = await namedFeeds(model, d.dir, limit);
    if (named !== undefined) return named;
  }
  const ds = await loadDataset(d.dataset, d.dir, { split: d.split ?? 'train', limit });
  const feed: FeedOptions = {
    limit,
    ...(d.batchSize !== undefined && { batchSize: d.batchSize }),
    ...(d.scale !== undefined && { scale: d.scale }),
  };
  return collectFeeds(feedsFrom(ds, model, feed));
}
