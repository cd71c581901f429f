import { type Feeds, McError, type Model, type Tensor } from '@mc/ir';
import { writeOnnx } from '@mc/io-onnx';
import * as ort from 'onnxruntime-node';
import { feedsToOrt, outputsFromOrt } from './ort-tensor.js';
import { SEGMENT_BYTES, SEGMENTED_ABOVE_BYTES, runSegmented, weightBytes } from './segments.js';

// onnxruntime-node 1.30's Linux build carries Microsoft's 1DS telemetry client, which opens an (empty) trace file
// /tmp/mat-debug-<pid>.log when the first session starts and never removes it. ORT reads ORT_DISABLE_TELEMETRY then;
// set it unless the user chose a value.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/** Named input tensors, as `randomFeeds` in `@mc/ir/testing` makes them (the `@mc/ir` type). */
export type { Feeds };

/** Options for {@link runModel} and {@link createSession}. */
export interface RunModelOptions {
  /** onnxruntime graph optimizations; `'disabled'` for lossless (bitwise) comparisons. Default `'all'` (ORT's). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Passed to `InferenceSession.create` as is (threads, session config entries, ...). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
  /** Where the model came from, for error messages. */
  file?: string;
  /**
   * An IR model whose weights exceed `above` bytes (default {@link SEGMENTED_ABOVE_BYTES}, 256 MiB) runs in segments of
   * at most `bytes` weight bytes (default {@link SEGMENT_BYTES}, 64 MiB), one onnxruntime session at a time.
   */
  segments?: { above?: number; bytes?: number };
}

/** A reusable onnxruntime-node session over an mc model. */
export interface ModelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs one batch; with `outputs`, only those are fetched (a segmented session computes all and returns those). */
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, Tensor>>;
  /** Runs several batches; a segmented session loads each segment once for all of them. */
  runMany(feeds: readonly Feeds[]): Promise<Record<string, Tensor>[]>;
  release(): Promise<void>;
}

/**
 * Opens an onnxruntime-node (CPU) session for a model (IR model, ONNX bytes, or a file path).
 *
 * @example
 * ```ts
 * const s = await createSession(model, { graphOptimizationLevel: 'disabled' });
 * const out = await s.run(feeds);
 * await s.release();
 * ```
 */
export async function createSession(model: Model | Uint8Array | string, opts: RunModelOptions = {}): Promise<ModelSession> {
  if (typeof model !== 'string' && !(model instanceof Uint8Array) && weightBytes(model) > (opts.segments?.above ?? SEGMENTED_ABOVE_BYTES)) {
    return segmentedSession(model, opts);
  }
  return openSession(model, opts);
}

/**
 * A session over a model too large for one onnxruntime session (see {@link RunModelOptions.segments}): every run
 * opens the segments one after another. Memory stays near one segment's weights, time grows by the loads.
 */
function segmentedSession(model: Model, opts: RunModelOptions): ModelSession {
  const runMany = (feeds: readonly Feeds[]) =>
    runSegmented(
      model,
      feeds,
      async (part, fs) => {
        // No arena: a released segment's memory goes back to the allocator before the next segment loads; no
        // pre-packed copies of the weights (a check runs each segment on a few batches only).
        const so = opts.sessionOptions;
        const extra = so?.extra as { session?: Record<string, string> } | undefined;
        const s = await openSession(part, {
          ...opts,
          sessionOptions: { enableCpuMemArena: false, ...so, extra: { ...extra, session: { disable_prepacking: '1', ...extra?.session } } },
        });
        try {
          const out: Record<string, Tensor>[] = [];
          for (const f of fs) out.push(await s.run(f));
          return out;
        } finally {
          await s.release();
        }
      },
      opts.segments?.bytes ?? SEGMENT_BYTES,
    );
  return {
    inputNames: model.graph.inputs.filter((v) => !v.isInitializer()).map((v) => v.name),
    outputNames: model.graph.outputs.map((v) => v.name),
    run: async (feeds, outputs) => {
      const all = (await runMany([feeds]))[0]!;
      return outputs === undefined ? all : Object.fromEntries(outputs.flatMap((k) => (all[k] === undefined ? [] : [[k, all[k]]])));
    },
    runMany,
    release: async () => {},
  };
}

async function openSession(model: Model | Uint8Array | string, opts: RunModelOptions): Promise<ModelSession> {
  // A path lets onnxruntime resolve external data itself; an IR model is encoded inline.
  const src = typeof model === 'string' || model instanceof Uint8Array ? model : writeOnnx(model);
  const where = opts.file ?? (typeof model === 'string' ? model : 'the model');
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(src as Uint8Array, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
      // Libraries do not print: keep ORT's own warnings (e.g. unused initializers) off stderr unless asked for.
      logSeverityLevel: 3,
      ...opts.sessionOptions,
    });
  } catch (e) {
    throw new McError(
      'E_VERIFY',
      `onnxruntime-node cannot load ${where}: ${(e as Error).message}; check the ops and opset are supported by onnxruntime`,
      {
        ...(opts.file !== undefined && { context: { file: opts.file } }),
        cause: e,
      },
    );
  }
  const run = async (feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, Tensor>> => {
    const f = feedsToOrt(feeds);
    let res: ort.InferenceSession.OnnxValueMapType;
    try {
      res = outputs === undefined ? await session.run(f) : await session.run(f, [...outputs]);
    } catch (e) {
      throw new McError(
        'E_VERIFY',
        `onnxruntime-node failed to run ${where}: ${(e as Error).message}; check the feeds' names, dtypes and shapes`,
        {
          ...(opts.file !== undefined && { context: { file: opts.file } }),
          cause: e,
        },
      );
    }
    return outputsFromOrt(res, outputs ?? session.outputNames);
  };
  return sessionOver(session, run);
}

/**
 * A {@link ModelSession} over an onnxruntime session (of onnxruntime-node or -web) and its `run`. @internal
 */
export function sessionOver(
  session: { readonly inputNames: readonly string[]; readonly outputNames: readonly string[]; release(): Promise<void> },
  run: (feeds: Feeds, outputs?: readonly string[]) => Promise<Record<string, Tensor>>,
): ModelSession {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    run,
    async runMany(feeds: readonly Feeds[]) {
      const out: Record<string, Tensor>[] = [];
      for (const f of feeds) out.push(await run(f));
      return out;
    },
    release: () => session.release(),
  };
}

/**
 * Runs a model once in onnxruntime-node and returns its outputs as IR tensors.
 *
 * @example
 * ```ts
 * const out = await runModel(model, randomFeeds(model, 0), { graphOptimizationLevel: 'disabled' });
 * out['logits']!.dims; // [1, 10]
 * ```
 */
export async function runModel(
  model: Model | Uint8Array | string,
  feeds: Feeds,
  opts: RunModelOptions = {},
): Promise<Record<string, Tensor>> {
  const s = await createSession(model, opts);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}
