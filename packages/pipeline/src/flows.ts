import { augmentFor, type Dataset } from '@mc/datasets';
import type { DistillOptions, TrainReport } from '@mc/distill';
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
 * The recovery recipe after pruning, for every option the caller leaves unset. After channel pruning the thinner model
 * is distilled from the unpruned input (Hinton et al. 2015: soft targets at temperature 4 with weight 0.9, the labels
 * with 0.1), which recovers more than training on the labels alone; unstructured pruning fine-tunes on the labels with
 * the zeros held. Both use a cosine schedule and the dataset's own augmentation (`augmentFor`: pad-4 crop and mirror
 * for CIFAR-10, none for MNIST). Chosen on ResNet8 / CIFAR-10 (50,000 images, docs/prune.md).
 * @example
 * PRUNE_RECOVERY_DEFAULTS.schedule; // 'cosine'
 */
export const PRUNE_RECOVERY_DEFAULTS = {
  schedule: 'cosine',
  /** Channel pruning: Adam learning rate of the distillation. */
  learningRate: 3e-3,
  temperature: 4,
  alpha: 0.9,
} as const satisfies Pick<DistillOptions, 'schedule' | 'learningRate' | 'temperature' | 'alpha'>;

/**
 * Prunes with the weights left dense, then recovers accuracy ({@link PRUNE_RECOVERY_DEFAULTS}): channel pruning
 * distils the thinner model from the unpruned input; unstructured pruning fine-tunes with the masks held (the zeros stay
 * zero) and stores the pruned weights again in the requested form. `train` overrides the recipe.
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
  train: DistillOptions = {},
): Promise<PruneFinetuneResult> {
  const dense = await prune(model, opts);
  const { distill, finetune } = await import('@mc/distill'); // tfjs loads only when a flow trains
  const augment = train.augment ?? augmentFor(data);
  const recipe = { schedule: PRUNE_RECOVERY_DEFAULTS.schedule, ...(augment !== undefined && { augment }), ...train };
  if (opts.mode !== 'magnitude') {
    const { temperature, alpha, learningRate } = PRUNE_RECOVERY_DEFAULTS;
    const kd = { temperature, alpha, learningRate, ...(!data.hasLabels && { unlabeled: true }) };
    const t = await distill(model, dense.model, data, { ...kd, ...recipe });
    return { model: t.model, report: t.report, pruned: dense.report };
  }
  const masks = Object.fromEntries(pruneMasks(dense.model));
  const t = await finetune(dense.model, data, { ...recipe, masks });
  return { model: storePruned(restoreMasks(dense.model, t.model, 'finetune').model).model, report: t.report, pruned: dense.report };
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
