import { type McWarning, type Model, type ModelStats, modelStats, normalizeWeights, runPasses } from '@mc/ir';
import { pruneChannels } from './channels.js';
import { foldBatchNormPass } from './fold-bn.js';
import { pruneMagnitude } from './magnitude.js';
import { reconstruct } from './reconstruct.js';
import { type PruneOptions, validateOptions } from './options.js';
import type { PassedThrough, PruneReport } from './report.js';
import { inferAllShapes } from './shapes.js';
import { unstorePruned } from './unstore.js';

/** Stats on a throw-away copy, so the output differs from the input only where pruned. */
function statsOf(model: Model): ModelStats {
  const c = model.clone();
  inferAllShapes(c);
  return modelStats(c);
}

/** Result of {@link prune}. */
export interface PruneResult {
  model: Model;
  report: PruneReport;
}

/**
 * Prunes a model; the input is never changed.
 *
 * - `mode: 'magnitude'`: the smallest weights become exactly zero (per layer, global, or N:M). They stay plain dense
 *   float32 initializers carrying their masks, so every later technique (low rank, quantize, fine-tuning) sees them;
 *   `storePruned` writes them in the storage asked for (`sparse_initializer` with int64 indices, the packed
 *   dense-at-load form, a codebook) just before the model is saved.
 * - `mode: 'channels'`: whole channels are removed along dependency groups (Conv → BN → activation → Conv, residual
 *   Add, Concat, Split, depthwise Conv, Flatten/Reshape → Gemm/MatMul); tensors shrink and shapes update. A group that
 *   cannot be proven safe is left alone and the report says why.
 *
 * A model with nothing prunable gives an unchanged copy and `report.nothingToPrune`.
 *
 * @example
 * ```ts
 * const { model: sparse } = await prune(model, { mode: 'magnitude', sparsity: 0.9, scope: 'global' });
 * const { model: thin, report } = await prune(model, { mode: 'channels', ratio: 0.5, importance: 'l1' });
 * report.groups.filter((g) => g.reasons.length > 0);
 * ```
 */
export async function prune(model: Model, opts: PruneOptions): Promise<PruneResult> {
  const plan = validateOptions(opts);
  opts.signal?.throwIfAborted();
  // A pruned file's stored forms (sparse_initializer, packed) become dense initializers again, so they can be re-pruned.
  let out = unstorePruned(model.clone()).model;
  // Weights in Constant nodes or behind Identity nodes (third-party exporters) become plain, possibly shared, initializers.
  normalizeWeights(out);
  const before = statsOf(model);
  const warnings: McWarning[] = [];
  const passedThrough: PassedThrough[] = [];
  const report: PruneReport = {
    technique: 'prune',
    mode: opts.mode,
    before,
    after: before,
    weights: [],
    groups: [],
    achieved: 0,
    passedThrough,
    warnings,
  };
  opts.onProgress?.({ phase: 'analyse', index: 0, total: 1 });
  if ('mode' in plan) {
    const reference = plan.calibration === undefined ? undefined : out.clone();
    const r = pruneChannels(out, plan, warnings);
    report.groups = r.groups;
    report.achieved = r.achieved;
    if (r.nothingToPrune !== undefined) report.nothingToPrune = r.nothingToPrune;
    if (reference !== undefined && r.nothingToPrune === undefined) {
      const refit = await reconstruct(
        reference,
        { model: out, report },
        {
          calibration: plan.calibration!,
          ...(opts.onProgress !== undefined && { onProgress: opts.onProgress }),
          ...(opts.signal !== undefined && { signal: opts.signal }),
        },
      );
      out = refit.model;
      report.reconstruct = refit.report;
    }
    if (plan.foldBatchNorm === true) warnings.push(...runPasses(out, [foldBatchNormPass]).warnings);
  } else {
    const r = pruneMagnitude(out, plan, new Set(opts.exclude ?? []), passedThrough, warnings);
    report.weights = r.weights;
    report.achieved = r.achieved;
    if (r.nothingToPrune !== undefined) report.nothingToPrune = r.nothingToPrune;
  }
  // Nothing pruned: hand back a plain copy (analysis may have annotated shapes on the working copy).
  if (report.nothingToPrune !== undefined) out = model.clone();
  for (const p of passedThrough)
    warnings.push({ code: 'W_PASSTHROUGH', node: p.node, message: `${p.opType} '${p.node}' not pruned: ${p.reason}` });
  opts.signal?.throwIfAborted();
  opts.onProgress?.({ phase: 'rewrite', index: 1, total: 1 });
  report.after = statsOf(out);
  return { model: out, report };
}
