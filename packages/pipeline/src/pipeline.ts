import type { Dataset } from '@mc/datasets';
import { inferShapes, McError, type Model, type ModelStats, modelStats } from '@mc/ir';
import { type MaskReport, restoreMasks, unstorePruned } from '@mc/prune';
import { type CheckPolicy, checkStep, type StepCheck } from './check.js';
import { collectFeeds, type FeedOptions, type Feeds, feedsFrom } from './feeds.js';
import { type PipelineStep, STEPS, type TechniqueReport } from './steps.js';
import { checkAgreement, GATE_THRESHOLDS, type GateTechnique, syntheticFeeds } from '@mc/verify';

/** Options of {@link pipeline}. */
export interface PipelineOptions {
  /** Training/calibration data for the steps that need it, and verification inputs. */
  data?: Dataset;
  feed?: FeedOptions;
  /** Check every step's output against its input in onnxruntime-node (default true). */
  verify?: boolean;
  /** Bounds applied to every step that sets none of its own. */
  check?: CheckPolicy;
  /** Feeds for verification; default: 64 dataset samples, or synthetic inputs (`syntheticFeeds`) without data. */
  verifyFeeds?: readonly Feeds[];
  onProgress?: (event: { step: string; index: number; total: number; phase: 'start' | 'done'; seconds?: number }) => void;
  signal?: AbortSignal;
}

/** What one step did. */
export interface StepResult {
  step: string;
  index: number;
  report: TechniqueReport;
  check?: StepCheck;
  /** What became of the pruning masks of the step's input (absent when it had none). */
  masks?: MaskReport;
  seconds: number;
}

/** Parameter and MAC counts on a throw-away copy with shapes inferred. */
function statsOf(model: Model): ModelStats {
  const c = model.clone();
  inferShapes(c);
  return modelStats(c);
}

/** Result of {@link pipeline}. */
export interface PipelineResult {
  model: Model;
  steps: StepResult[];
}

/**
 * The row of `GATE_THRESHOLDS` (in `@mc/verify`) a step is checked against.
 *
 * @example
 * ```ts
 * techniqueOf({ step: 'prune', options: { mode: 'channels', ratio: 0.5 } }); // 'prune-channels'
 * ```
 */
export function techniqueOf(s: PipelineStep): GateTechnique {
  switch (s.step) {
    case 'quantize':
      return s.options.mode;
    case 'prune':
      return s.options.mode === 'channels' ? 'prune-channels' : 'prune-magnitude';
    default:
      return s.step;
  }
}

/**
 * The default `--max-accuracy-drop` of a whole recipe: the largest of its steps' defaults in `GATE_THRESHOLDS`.
 *
 * @example
 * ```ts
 * recipeMaxAccuracyDrop([{ step: 'lowrank' }, { step: 'quantize', options: { mode: 'int8-weights' } }]); // 2
 * ```
 */
export function recipeMaxAccuracyDrop(steps: readonly PipelineStep[]): number {
  return Math.max(0, ...steps.map((s) => GATE_THRESHOLDS[techniqueOf(s)].maxAccuracyDrop));
}

/** A step's check against its technique's thresholds (the default when the step sets no bounds of its own). */
async function techniqueCheck(
  before: Model,
  after: Model,
  technique: GateTechnique,
  feeds: readonly Feeds[] | undefined,
  scale: number | undefined,
): Promise<StepCheck> {
  const r = await checkAgreement(before, after, {
    technique,
    ...(feeds !== undefined && { feeds }),
    ...(scale !== undefined && { scale }),
  });
  const outs = Object.values(r.outputs);
  const top1s = outs.flatMap((o) => (o.top1 === undefined ? [] : [o.top1]));
  return {
    ok: r.ok,
    maxAbs: outs.length === 0 ? Infinity : Math.max(...outs.map((o) => o.maxAbs)),
    cosine: outs.length === 0 ? 0 : Math.min(...outs.map((o) => o.cosine)),
    top1: top1s.length === 0 ? undefined : Math.min(...top1s),
    samples: (feeds ?? [undefined, undefined, undefined, undefined]).length,
    ...(!r.ok && { reason: `${r.failures.join('; ')} (${technique} thresholds, ${feeds === undefined ? 'synthetic inputs' : 'data'})` }),
  };
}

/**
 * Runs steps in order (e.g. prune → lowrank → finetune → quantize), each on the previous step's output, keeping every
 * step's report. With `verify` (default), every output is run in onnxruntime-node against its input: against the
 * step's own `check` bounds when it has them, else its technique's row of `GATE_THRESHOLDS` (`@mc/verify`); a step that
 * fails stops the pipeline with `E_VERIFY` naming the step, and nothing is returned to write.
 *
 * @example
 * ```ts
 * const { model: small, steps } = await pipeline(model, [
 *   { step: 'lowrank', options: { error: 0.3 } },
 *   { step: 'quantize', options: { mode: 'int8-weights' } },
 * ]);
 * ```
 */
export async function pipeline(
  model: Model,
  steps: readonly (PipelineStep & { check?: CheckPolicy })[],
  opts: PipelineOptions = {},
): Promise<PipelineResult> {
  const verify = opts.verify ?? true;
  let feeds = opts.verifyFeeds;
  if (verify && feeds === undefined && opts.data !== undefined)
    feeds = await collectFeeds(feedsFrom(opts.data, model, { ...opts.feed, limit: 64 }));
  const results: StepResult[] = [];
  // A pruned input file's stored forms become dense weights with masks again, so every step sees every weight.
  let current = unstorePruned(model).model;
  for (const [index, s] of steps.entries()) {
    opts.signal?.throwIfAborted();
    opts.onProgress?.({ step: s.step, index, total: steps.length, phase: 'start' });
    const t0 = performance.now();
    let out;
    try {
      out = await STEPS[s.step].run(current, (s.options ?? {}) as Record<string, unknown>, {
        original: model,
        ...(opts.data !== undefined && { data: opts.data }),
        ...(opts.feed !== undefined && { feed: opts.feed }),
        ...(opts.signal !== undefined && { signal: opts.signal }),
      });
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new McError(McError.is(e) ? e.code : 'E_INVARIANT', `step ${index + 1} (${s.step}) failed: ${msg}`, {
        cause: e,
        context: { ...(McError.is(e) ? e.context : {}), step: s.step },
      });
    }
    // Pruned weights keep their masks across every step (fine-tuning honours them; a step that replaced a weight, such
    // as low rank, is reported: its sparsity is gone).
    const restored = restoreMasks(current, out.model, s.step);
    out = { ...out, model: restored.model };
    // Every step's report has before/after figures (training reports have none of their own).
    const report = { ...(out.report as TechniqueReport) };
    report.before ??= statsOf(current);
    report.after ??= statsOf(out.model);
    const result: StepResult = { step: s.step, index, report, seconds: 0 };
    if (restored.report.kept.length + restored.report.reapplied.length + restored.report.lost.length > 0) result.masks = restored.report;
    if (verify) {
      const policy = s.check ?? opts.check;
      const scale = opts.feed?.scale;
      const check =
        policy !== undefined
          ? await checkStep(
              current,
              out.model,
              feeds ?? [0, 1, 2, 3].map((k) => syntheticFeeds(model, k, { ...(scale !== undefined && { scale }) })),
              policy,
            )
          : await techniqueCheck(current, out.model, techniqueOf(s), feeds, scale);
      result.check = check;
      if (!check.ok) {
        throw new McError(
          'E_VERIFY',
          `step ${index + 1} (${s.step}) failed verification in onnxruntime-node: ${check.reason}; nothing was written — relax the step's options or its check bounds`,
          {
            context: { step: s.step },
          },
        );
      }
    }
    result.seconds = (performance.now() - t0) / 1000;
    results.push(result);
    opts.onProgress?.({ step: s.step, index, total: steps.length, phase: 'done', seconds: result.seconds });
    current = out.model;
  }
  return { model: current, steps: results };
}
