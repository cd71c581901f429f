import { type Dataset, type EvaluateResult, evaluate, layoutForInput } from '@mc/datasets';
import { writeOnnx } from '@mc/io-onnx';
import { McError, type Model, Tensor, modelStats } from '@mc/ir';
import { createSession, createWebSession } from '@mc/verify';
import { gzipSync } from 'node:zlib';
import { feedsFrom, type FeedOptions, type Feeds, collectFeeds } from './feeds.js';

/** Runtime a model is measured in. */
export type Target = 'ort-cpu' | 'ort-web';

/**
 * What {@link evaluateModel} uses when unset: samples per onnxruntime run.
 * @example
 * evaluateModel(model, mnist, { batchSize: EVALUATE_DEFAULTS.batchSize });
 */
export const EVALUATE_DEFAULTS = { batchSize: 256 } as const;

/** Size, cost, accuracy and speed of one model. */
export interface Measurement {
  params: number;
  bytes: number;
  gzipBytes: number;
  macs: number;
  /** top-1 accuracy in [0, 1] on the evaluation samples. */
  accuracy: number;
  /** Median latency of one inference (batch 1 unless a latency batch was asked for), ms. */
  latencyMs: number;
}

/** Accuracy of a model on a dataset, with how long the evaluation took. */
export interface ModelEvaluation extends EvaluateResult {
  dataset: string;
  seconds: number;
}

/**
 * Top-1 accuracy of a single-input classifier through onnxruntime-node, batches laid out as its input expects.
 *
 * @example
 * ```ts
 * const r = await evaluateModel(model, mnistTest, { scale: 1 });
 * r.top1; // 0.9891
 * ```
 */
export async function evaluateModel(model: Model, data: Dataset, feed: FeedOptions = {}): Promise<ModelEvaluation> {
  const inputs = model.graph.inputs.filter((v) => v.constValue === undefined);
  const [input] = inputs;
  if (inputs.length !== 1 || input === undefined) {
    throw new McError('E_UNSUPPORTED', `mc evaluates single-input classifiers; this model has ${inputs.length} inputs`);
  }
  const t0 = performance.now();
  const session = await createSession(model);
  try {
    // A model with a fixed batch dimension gets batches of exactly that size.
    const fixed = typeof input.shape?.[0] === 'number' ? input.shape[0] : undefined;
    const r = await evaluate(
      async (b) => {
        const out = await session.run({ [input.name]: new Tensor('float32', b.dims, b.x) });
        return out[session.outputNames[0]!]!.data as Float32Array;
      },
      data,
      {
        batchSize: fixed ?? feed.batchSize ?? EVALUATE_DEFAULTS.batchSize,
        layout: layoutForInput(data, input.shape, input.name),
        ...(feed.scale !== undefined && { scale: feed.scale }),
        ...(feed.limit !== undefined && { limit: feed.limit }),
      },
    );
    return { ...r, dataset: data.name, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await session.release();
  }
}

/**
 * Top-1 accuracy in [0, 1] of a model through onnxruntime-node.
 *
 * @example
 * ```ts
 * const acc = await accuracyOf(model, mnistTest, { scale: 1, limit: 2000 });
 * ```
 */
export async function accuracyOf(model: Model, data: Dataset, feed: FeedOptions = {}): Promise<number> {
  return (await evaluateModel(model, data, feed)).top1;
}

/**
 * Median latency (ms) of one inference on `feeds` in the target runtime, after warm-up: `runs` timed runs, or as many
 * as fit in about half a second when a run is slow.
 *
 * @example
 * ```ts
 * const ms = await latencyOf(model, [feeds], 'ort-cpu');
 * ```
 */
export async function latencyOf(model: Model, feeds: readonly Feeds[], target: Target = 'ort-cpu', runs = 200): Promise<number> {
  const f = feeds[0];
  if (f === undefined) return NaN;
  const times: number[] = [];
  const s = target === 'ort-web' ? await createWebSession(model) : await createSession(model, { sessionOptions: { intraOpNumThreads: 1 } });
  try {
    for (let i = 0; i < 10; i++) await s.run(f);
    const until = performance.now() + 500;
    for (let i = 0; i < runs && (i < 10 || performance.now() < until); i++) {
      const t0 = performance.now();
      await s.run(f);
      times.push(performance.now() - t0);
    }
  } finally {
    await s.release();
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

/** One feed of `batch` samples from a dataset (a model with a fixed batch dimension gets its own), for latency. */
export async function singleFeed(data: Dataset, model: Model, feed: FeedOptions = {}, batch = 1): Promise<Feeds[]> {
  return collectFeeds(feedsFrom(data, model, { ...feed, limit: batch, batchSize: batch }), 1);
}

/**
 * Measures size (params, bytes raw and gzipped, MACs), accuracy and latency of a model.
 *
 * @example
 * ```ts
 * const m = await measure(model, mnistTest, { feed: { scale: 1, limit: 2000 } });
 * ```
 */
export async function measure(
  model: Model,
  data: Dataset,
  opts: { feed?: FeedOptions; target?: Target; latency?: boolean; latencyBatch?: number } = {},
): Promise<Measurement> {
  const bytes = writeOnnx(model);
  const stats = modelStats(model.clone());
  const accuracy = await accuracyOf(model, data, opts.feed);
  const latencyMs =
    opts.latency === false
      ? NaN
      : await latencyOf(model, await singleFeed(data, model, opts.feed, opts.latencyBatch), opts.target ?? 'ort-cpu');
  return {
    params: stats.params,
    bytes: bytes.length,
    gzipBytes: gzipSync(bytes, { level: 9 }).length,
    macs: stats.macs,
    accuracy,
    latencyMs,
  };
}
