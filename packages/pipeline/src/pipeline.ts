import type { Dataset } from '@mc/datasets';
import { inferShapes, McError, type Model, type ModelStats, modelStats } from '@mc/ir';
import { type MaskReport, restoreMasks, unstorePruned } from '@mc/prune';
import { type CheckPolicy, checkStep, type StepCheck } from './check.js';
import { collectFeeds, type FeedOptions, type Feeds, feedsFrom } from './feeds.js';
import { type PipelineStep, STEPS, type TechniqueReport } from './steps.js';
import { randomFeeds } from '@mc/verify';

/** Options of {@link pipeline}. */
export interface PipelineOptions {
  /** Training/calibration data for the steps that need it, and verification inputs. */
  data?: Dataset;
  feed?: FeedOptions;
  /** Check every step's output against its input in onnxruntime-node (default true). */
  verify?: boolean;
  /** Bounds applied to every step that sets none of its own. */
  check?: CheckPolicy;
  /** Feeds for verification; default: 64 dataset samples, or random inputs without data. */
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
 * Runs steps in order (e.g. prune → lowrank → finetune → quantize), each on the previous step's output, keeping every
 * step's report. With `verify` (default), every output is run in onnxruntime-node against its input; a step that
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
export async function pipeline(model: Model, steps: readonly (PipelineStep & { check?: CheckPolicy })[], opts: PipelineOptions = {}): Promise<PipelineResult> {
  const verify = opts.verify ?? true;
  let feeds = opts.verifyFeeds;
  if (verify && feeds === undefined) {
    feeds = opts.data !== undefined ? await collectFeeds(feedsFrom(opts.data, model, { ...opts.feed, limit: 64 })) : [randomFeeds(model, 0) as Feeds];
  }
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
      throw new McError(McError.is(e) ? e.code : 'E_INVARIANT', `step ${index + 1} (${s.step}) failed: ${msg}`, { cause: e, context: { ...(McError.is(e) ? e.context : {}), step: s.step } });
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
    if (verify && feeds !== undefined) {
      const check = await checkStep(current, out.model, feeds, s.check ?? opts.check ?? {});
      result.check = check;
      if (!check.ok) {
        throw new McError('E_VERIFY', `step ${index + 1} (${s.step}) failed verification in onnxruntime-node: ${check.reason}; nothing was written — relax the step's options or its check bounds`, {
          context: { step: s.step },
        });
      }
    }
    result.seconds = (performance.now() - t0) / 1000;
    results.push(result);
    opts.onProgress?.({ step: s.step, index, total: steps.length, phase: 'done', seconds: result.seconds });
    current = out.model;
  }
  return { model: current, steps: results };
}
