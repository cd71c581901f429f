import { augmentFor, type Dataset } from '@mc/datasets';
import type { DistillOptions, TrainOptions, TrainReport } from '@mc/distill';
import type { Model } from '@mc/ir';
import { type FactorizeOptions, type FactorizeReport, factorize } from '@mc/lowrank';
import {
  type PruneOptions,
  type PruneReport,
  prune,
  pruneMasks,
  restoreMasks,
  type StoreReport,
  storePruned,
  unstorePruned,
} from '@mc/prune';

/** What {@link pruneFlow} returns. */
export interface PruneFlowResult {
  /** The pruned model in its stored form (sparse, packed or dense weights): the file to write. */
  readonly model: Model;
  /** The prune report with the storage each weight got. */
  readonly report: PruneReport;
}

/** The prune report with the storage the write actually used. */
function withStorage(r: PruneReport, s: StoreReport): PruneReport {
  const by = new Map(s.weights.map((w) => [w.weight, w]));
  return { ...r, weights: r.weights.map((w) => ({ ...w, ...by.get(w.weight) })), warnings: [...r.warnings, ...s.warnings] };
}

/**
 * Prunes and stores: the weights the prune zeroed are written in the form its `storage` option asks for.
 *
 * @example
 * ```ts
 * const { model, report } = await pruneFlow(lenet, { mode: 'magnitude', sparsity: 0.9, scope: 'global' });
 * ```
 */
export async function pruneFlow(model: Model, opts: PruneOptions): Promise<PruneFlowResult> {
  const pruned = await prune(model, opts);
  const stored = storePruned(pruned.model);
  return { model: stored.model, report: withStorage(pruned.report, stored.report) };
}

/** What {@link pruneFinetuneFlow} returns. */
export interface PruneFinetuneResult {
  /** The fine-tuned model; unstructured weights keep their zeros and are stored again. */
  readonly model: Model;
  /** The training report. */
  readonly report: TrainReport;
  /** The report of the prune before training. */
  readonly pruned: PruneReport;
}

/**
 * The recovery recipe after pruning, for every option the caller leaves unset: fine-tuning on the labels with Adam at
 * 3e-3, a cosine schedule and the dataset's own augmentation (`augmentFor`: pad-4 crop and mirror for CIFAR-10, none
 * for MNIST); unstructured pruning holds the zeros. Data without labels is recovered by distillation from the unpruned
 * input (Hinton et al. 2015, temperature 4, the teacher's arg-max for the hard part). Chosen on ResNet8 with the whole
 * CIFAR-10 (docs/prune.md): with the same schedule and augmentation, the labels recovered 79.3 % at 50 % of channels
 * removed where distillation from the unpruned model (α 0.9) recovered 77.0 %.
 * @example
 * PRUNE_RECOVERY_DEFAULTS.schedule; // 'cosine'
 */
export const PRUNE_RECOVERY_DEFAULTS = {
  schedule: 'cosine',
  /** Channel pruning: Adam learning rate (unstructured pruning keeps `@mc/distill`'s default). */
  learningRate: 3e-3,
  /** Distillation without labels: softmax temperature. */
  temperature: 4,
} as const satisfies Pick<DistillOptions, 'schedule' | 'learningRate' | 'temperature'>;

/**
 * Prunes with the weights left dense, then recovers accuracy ({@link PRUNE_RECOVERY_DEFAULTS}): fine-tuning on the labels
 * (unstructured pruning: with the masks held, the zeros stay zero, and the pruned weights are stored again in the
 * requested form); data without labels distils the pruned model from the unpruned input. `train` overrides the recipe.
 *
 * @example
 * ```ts
 * const { model } = await pruneFinetuneFlow(lenet, { mode: 'magnitude', sparsity: 0.9 }, mnistTrain, { epochs: 1 });
 * ```
 */
export async function pruneFinetuneFlow(
  model: Model,
  opts: PruneOptions,
  data: Dataset,
  train: TrainOptions = {},
): Promise<PruneFinetuneResult> {
  const dense = await prune(model, opts);
  const { distill, finetune } = await import('@mc/distill'); // tfjs loads only when a flow trains
  const R = PRUNE_RECOVERY_DEFAULTS;
  const augment = train.augment ?? augmentFor(data);
  const recipe = {
    schedule: R.schedule,
    ...(opts.mode !== 'magnitude' && { learningRate: R.learningRate }),
    ...(augment !== undefined && { augment }),
    ...train,
  };
  const masks = opts.mode === 'magnitude' ? Object.fromEntries(pruneMasks(dense.model)) : undefined;
  const o = { ...recipe, ...(masks !== undefined && { masks }) };
  const t = data.hasLabels
    ? await finetune(dense.model, data, o)
    : await distill(model, dense.model, data, { temperature: R.temperature, unlabeled: true, ...o });
  const out = masks === undefined ? t.model : storePruned(restoreMasks(dense.model, t.model, 'finetune').model).model;
  return { model: out, report: t.report, pruned: dense.report };
}

/** Options of {@link compressFlow}: the factorisation, and optionally a recovery by distillation. */
export interface CompressFlowOptions {
  /** Recover accuracy by distillation from the input model (its soft outputs are the targets: no labels are read). */
  readonly finetune?: {
    /** Epochs of distillation; default `@mc/distill`'s. */
    readonly epochs?: number;
    readonly data: Dataset;
    /** Multiplies stored pixel values (see `TrainOptions.scale`). */
    readonly scale?: number;
  };
}

/** What {@link compressFlow} returns. */
export interface CompressFlowResult {
  /** The factorised (and fine-tuned) model with dense weights: the model to check. */
  readonly model: Model;
  /** `model` with the weights a pruned input had stored sparse or packed again: the file to write. */
  readonly stored: Model;
  readonly report: FactorizeReport;
  /** Epochs and wall time of the recovery, when asked for. */
  readonly finetune?: { readonly epochs: number; readonly seconds: number };
}

/**
 * Factorises a model (a pruned file's sparse or packed weights are read back dense with their masks, so every layer is
 * seen), then optionally recovers accuracy by distillation from the input.
 *
 * @example
 * ```ts
 * const { stored, report } = await compressFlow(model, { error: 0.3 }, { finetune: { epochs: 1, data: mnistTrain } });
 * ```
 */
export async function compressFlow(model: Model, opts: FactorizeOptions, flow: CompressFlowOptions = {}): Promise<CompressFlowResult> {
  const source = unstorePruned(model).model;
  const { model: factorized, report } = await factorize(source, opts);
  let final = factorized;
  let tuned: { epochs: number; seconds: number } | undefined;
  if (flow.finetune !== undefined) {
    const { epochs, data, scale } = flow.finetune;
    const { distill } = await import('@mc/distill');
    const t0 = Date.now();
    const result = await distill(model, factorized, data, {
      unlabeled: true,
      ...(epochs !== undefined && { epochs }),
      ...(scale !== undefined && { scale }),
    });
    final = result.model;
    tuned = { epochs: result.report.epochs.length, seconds: (Date.now() - t0) / 1000 };
  }
  return { model: final, stored: storePruned(final).model, report, ...(tuned !== undefined && { finetune: tuned }) };
}
