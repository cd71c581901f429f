import { McError } from '@mc/ir';
import type { Batch, BatchOptions, Dataset } from './dataset.js';

/** What a model run returns for a batch: `[B, numClasses]` scores (logits or probabilities) row-major. */
export type BatchScores = Float32Array | { readonly data: ArrayLike<number>; readonly dims?: readonly number[] };

/** Options of {@link evaluate}: how to batch, plus progress and cancellation. */
export interface EvaluateOptions extends Pick<BatchOptions, 'batchSize' | 'layout' | 'scale' | 'mean' | 'std' | 'limit'> {
  signal?: AbortSignal;
  onProgress?: (event: { done: number; total: number; correct: number }) => void;
}

/** Top-1 accuracy of a model on a labelled dataset. */
export interface EvaluateResult {
  /** correct / total, in [0, 1]. */
  top1: number;
  correct: number;
  total: number;
  errors: number;
  /** Per class: how many samples and how many right. */
  perClass: { total: number; correct: number }[];
}

/**
 * Computes top-1 accuracy by calling `run` on each batch (for example an onnxruntime-node session) and comparing the
 * arg-max of its scores with the labels.
 *
 * @example
 * ```ts
 * const r = await evaluate(async (b) => (await session.run({ x: new ort.Tensor('float32', b.x, b.dims) })).y.data as Float32Array,
 *   await loadMnist(dir, { split: 'test' }), { batchSize: 256 });
 * r.top1; // 0.9919
 * ```
 */
export async function evaluate(
  run: (batch: Batch) => Promise<BatchScores> | BatchScores,
  dataset: Dataset,
  opts: EvaluateOptions = {},
): Promise<EvaluateResult> {
  if (!dataset.hasLabels) throw new McError('E_OPTION', `dataset '${dataset.name}' has no labels; accuracy needs labelled data`);
  const total = Math.min(dataset.size, opts.limit ?? dataset.size);
  const perClass = Array.from({ length: dataset.numClasses }, () => ({ total: 0, correct: 0 }));
  let correct = 0;
  let done = 0;
  const batchOpts: BatchOptions = { batchSize: opts.batchSize ?? 256, limit: total };
  for (const k of ['layout', 'scale', 'mean', 'std'] as const) if (opts[k] !== undefined) Object.assign(batchOpts, { [k]: opts[k] });
  for await (const batch of dataset.batches(batchOpts)) {
    opts.signal?.throwIfAborted();
    const out = await run(batch);
    const data = out instanceof Float32Array ? out : out.data;
    const b = batch.labels.length;
    const k = data.length / b;
    if (!Number.isInteger(k) || k < 2) {
      throw new McError(
        'E_FORMAT',
        `model returned ${data.length} scores for a batch of ${b}; expected [${b}, ${dataset.numClasses}] class scores`,
      );
    }
    if (k !== dataset.numClasses) {
      throw new McError(
        'E_FORMAT',
        `model scores ${k} classes but dataset '${dataset.name}' has ${dataset.numClasses}; evaluate on the dataset the model was trained for`,
      );
    }
    for (let i = 0; i < b; i++) {
      let best = 0;
      let bv = -Infinity;
      for (let j = 0; j < k; j++) {
        const v = data[i * k + j]!;
        if (v > bv) {
          bv = v;
          best = j;
        }
      }
      const label = batch.labels[i]!;
      const pc = perClass[label]!;
      pc.total++;
      if (best === label) {
        correct++;
        pc.correct++;
      }
    }
    done += b;
    opts.onProgress?.({ done, total, correct });
  }
  return { top1: done === 0 ? 0 : correct / done, correct, total: done, errors: done - correct, perClass };
}

/**
 * Index of the largest score in each row of `[rows, k]` scores.
 *
 * @example
 * ```ts
 * argmaxRows(new Float32Array([0, 1, 5, 2]), 2); // Int32Array [1, 0]
 * ```
 */
export function argmaxRows(data: ArrayLike<number>, k: number): Int32Array {
  const rows = Math.floor(data.length / k);
  const out = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (data[i * k + j]! > data[i * k + best]!) best = j;
    out[i] = best;
  }
  return out;
}
