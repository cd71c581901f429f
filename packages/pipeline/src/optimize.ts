import type { Dataset } from '@mc/datasets';
import { McError, type Model } from '@mc/ir';
import type { FeedOptions } from './feeds.js';
import { latencyOf, type Measurement, measure, singleFeed, type Target } from './measure.js';
import { pipeline } from './pipeline.js';
import type { PipelineStep } from './steps.js';

/** Options of {@link optimize}. */
export interface OptimizeOptions {
  /** Samples the search scores candidates on (use training data: the test set stays for the final check). */
  search: Dataset;
  /** Largest accuracy loss allowed, in percentage points (0.5 = half a point). */
  maxAccuracyDrop: number;
  /** 'size': smallest runnable file; 'latency': fastest batch-1 inference in the target runtime. */
  objective: 'size' | 'latency';
  target?: Target;
  /** Samples per timed inference for the latency objective (default 1). */
  latencyBatch?: number;
  feed?: FeedOptions;
  /**
   * Training samples, disjoint from `search`, for label-free recovery: a structural candidate (channels pruned, low
   * rank) that loses more than the budget is distilled from the input on them and measured again.
   */
  train?: Dataset;
  /** Epochs of that recovery (default 1). */
  recoverEpochs?: number;
  /** Stop searching after this many seconds (default 1200) and return the best seen. */
  timeBudgetSeconds?: number;
  onProgress?: (event: { candidate: string; measurement: Measurement; feasible: boolean; elapsed: number }) => void;
  signal?: AbortSignal;
}

/**
 * What {@link optimize} uses for an option left unset, for CLIs (`--help` shows these) and docs.
 * @example
 * OPTIMIZE_DEFAULTS.timeBudgetSeconds; // 1200
 */
export const OPTIMIZE_DEFAULTS = {
  target: 'ort-cpu',
  latencyBatch: 1,
  recoverEpochs: 1,
  timeBudgetSeconds: 1200,
} as const satisfies Required<Pick<OptimizeOptions, 'target' | 'latencyBatch' | 'recoverEpochs' | 'timeBudgetSeconds'>>;

/** One model the search built and measured. */
export interface Candidate {
  label: string;
  steps: PipelineStep[];
  measurement: Measurement;
  /** Accuracy drop against the input, percentage points. */
  drop: number;
  feasible: boolean;
}

/** Result of {@link optimize}. */
export interface OptimizeResult {
  /** The best feasible model, or the input when none met the bound. */
  model: Model;
  best: Candidate | undefined;
  baseline: Candidate;
  seen: Candidate[];
  /** Candidates no other candidate beats on both the objective and accuracy. */
  pareto: Candidate[];
  stoppedBy: 'done' | 'time';
}

const LOWRANK_ERRORS = [0.1, 0.2, 0.3, 0.45, 0.6];

/**
 * Accuracy-aware search over techniques and their knobs. For `size`: the largest low-rank error within half the
 * budget (bisection), then the fewest quantization bits within the whole budget, with per-layer sensitivity deciding
 * which layers stay at higher precision when a setting overshoots. For `latency`: int8 forms ORT fuses, low rank,
 * channel pruning and their combinations, each timed in the target runtime; with `train` data a structural candidate
 * that overshoots the budget is recovered by label-free distillation from the input. Candidates are scored on `search`
 * data.
 *
 * @example
 * ```ts
 * const r = await optimize(model, { search: mnistTrainSubset, maxAccuracyDrop: 0.3, objective: 'size', feed: { limit: 2000 } });
 * r.best?.measurement.bytes;
 * ```
 */
export async function optimize(model: Model, opts: OptimizeOptions): Promise<OptimizeResult> {
  if (!(opts.maxAccuracyDrop >= 0)) {
    throw new McError(
      'E_OPTION',
      `max accuracy drop must be a number of percentage points >= 0, got ${opts.maxAccuracyDrop}; e.g. --max-accuracy-drop 0.5`,
    );
  }
  const t0 = performance.now();
  const budget = (opts.timeBudgetSeconds ?? OPTIMIZE_DEFAULTS.timeBudgetSeconds) * 1000;
  const target = opts.target ?? OPTIMIZE_DEFAULTS.target;
  const seen: Candidate[] = [];
  const measureOpts = {
    ...(opts.feed !== undefined && { feed: opts.feed }),
    target,
    latency: opts.objective === 'latency',
    ...(opts.latencyBatch !== undefined && { latencyBatch: opts.latencyBatch }),
  };
  const base = await measure(model, opts.search, measureOpts);
  const baseline: Candidate = { label: 'input', steps: [], measurement: base, drop: 0, feasible: true };
  const models = new Map<Candidate, Model>();
  const reports = new Map<Candidate, string[]>();
  let stoppedBy = 'done' as 'done' | 'time';
  const score = (c: Candidate): number => (opts.objective === 'size' ? c.measurement.bytes : c.measurement.latencyMs);

  // Runs `steps` on `on` (a candidate already built, else the input) and records the whole recipe that led there.
  const tryCandidate = async (
    label: string,
    steps: PipelineStep[],
    on?: Candidate,
    data: Dataset = opts.search,
  ): Promise<Candidate | undefined> => {
    opts.signal?.throwIfAborted();
    if (performance.now() - t0 > budget) {
      stoppedBy = 'time';
      return undefined;
    }
    let out: Model;
    let layers: string[] = [];
    try {
      const r = await pipeline(on === undefined ? model : models.get(on)!, steps, {
        data,
        ...(opts.feed !== undefined && { feed: opts.feed }),
        verify: false,
      });
      out = r.model;
      const last = r.steps.at(-1)?.report.nodes ?? [];
      layers = [...last].sort((a, b) => (b.bytesBefore ?? 0) - (a.bytesBefore ?? 0)).map((n) => n.node);
    } catch (e) {
      if (McError.is(e) && (e.code === 'E_OPTION' || e.code === 'E_UNSUPPORTED' || e.code === 'E_VERIFY')) return undefined; // not applicable to this model
      throw e;
    }
    const m = await measure(out, opts.search, measureOpts);
    const drop = (base.accuracy - m.accuracy) * 100;
    // A candidate counts only when it improves the objective and stays within the accuracy budget.
    const better = opts.objective === 'size' ? m.bytes < base.bytes : m.latencyMs < base.latencyMs;
    const c: Candidate = {
      label,
      steps: [...(on?.steps ?? []), ...steps],
      measurement: m,
      drop,
      feasible: better && drop <= opts.maxAccuracyDrop,
    };
    seen.push(c);
    models.set(c, out);
    reports.set(c, layers);
    opts.onProgress?.({ candidate: label, measurement: m, feasible: c.feasible, elapsed: (performance.now() - t0) / 1000 });
    return c;
  };
  // Label-free recovery of a structural candidate: the whole recipe again from the input (the input is the teacher).
  const recover = async (c: Candidate | undefined): Promise<Candidate | undefined> => {
    if (c === undefined || c.drop <= opts.maxAccuracyDrop || opts.train === undefined || stoppedBy === 'time') return c;
    const distillStep: PipelineStep = {
      step: 'distill',
      options: {
        unlabeled: true,
        epochs: opts.recoverEpochs ?? OPTIMIZE_DEFAULTS.recoverEpochs,
        batchSize: 64,
        learningRate: 1e-3,
        seed: 1,
      },
    };
    return (await tryCandidate(`${c.label} + distill`, [...c.steps, distillStep], undefined, opts.train)) ?? c;
  };

  // 1. Low rank: the largest error within half the accuracy budget (errors are tried in rising order, bisection-style).
  let lowrank: Candidate | undefined;
  let lo = 0;
  let hi = LOWRANK_ERRORS.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = LOWRANK_ERRORS[mid]!;
    const c = await tryCandidate(`lowrank error ${e}`, [{ step: 'lowrank', options: { error: e } }]);
    if (c === undefined) break;
    if (c.drop <= opts.maxAccuracyDrop / 2 && c.measurement.params < base.params) {
      lowrank = c;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  // 2. A finishing step (quantization; for latency also channel pruning), on top of the low-rank model and on the
  //    input, cheapest first; for size the first feasible base of each step is kept.
  const finishers: [string, PipelineStep][] =
    opts.objective === 'size'
      ? [
          ['kmeans 2-bit', { step: 'quantize', options: { mode: 'kmeans', bits: 2 } }],
          ['kmeans 3-bit', { step: 'quantize', options: { mode: 'kmeans', bits: 3 } }],
          ['kmeans 4-bit', { step: 'quantize', options: { mode: 'kmeans', bits: 4 } }],
          ['int8 weights', { step: 'quantize', options: { mode: 'int8-weights' } }],
          ['float16', { step: 'quantize', options: { mode: 'fp16' } }],
        ]
      : [
          ['int8 static', { step: 'quantize', options: { mode: 'int8-static', target, calibrationSamples: 256 } }],
          ['int8 dynamic', { step: 'quantize', options: { mode: 'int8-dynamic', target } }],
          ['50% channels pruned', { step: 'prune', options: { mode: 'channels', ratio: 0.5 } }],
          ['25% channels pruned', { step: 'prune', options: { mode: 'channels', ratio: 0.25 } }],
        ];
  for (const [label, step] of finishers) {
    for (const on of lowrank === undefined ? [undefined] : [lowrank, undefined]) {
      let c = await tryCandidate(on === undefined ? label : `${on.label} + ${label}`, [step], on);
      if (opts.objective === 'latency' && step.step === 'prune') c = await recover(c);
      if (c !== undefined && c.feasible && opts.objective === 'size') break;
    }
    if (stoppedBy === 'time') break;
  }
  // For latency without a low-rank model inside the budget: the mildest low rank that overshot, recovered.
  if (opts.objective === 'latency' && lowrank === undefined && opts.train !== undefined) {
    const over = seen
      .filter((c) => c.steps.length === 1 && c.steps[0]!.step === 'lowrank' && c.measurement.macs < base.macs)
      .sort((a, b) => b.measurement.macs - a.measurement.macs)[0];
    await recover(over);
  }

  // 3. Per-layer sensitivity for the smallest setting that overshot: keep its most sensitive layers in float.
  if (opts.objective === 'size' && stoppedBy === 'done') {
    const bestBytes = Math.min(...seen.filter((c) => c.feasible).map((c) => c.measurement.bytes), Infinity);
    const over = seen
      .filter((c) => !c.feasible && c.steps.at(-1)?.step === 'quantize' && c.measurement.bytes < bestBytes)
      .sort((a, b) => a.measurement.bytes - b.measurement.bytes)[0];
    if (over !== undefined) {
      const on = over.steps.length > 1 ? lowrank : undefined;
      const q = over.steps.at(-1) as Extract<PipelineStep, { step: 'quantize' }>;
      const layers = (reports.get(over) ?? []).slice(0, 12);
      const gains: [string, number][] = [];
      for (const node of layers) {
        const c = await tryCandidate(
          `${over.label} except ${node}`,
          [{ step: 'quantize', options: { ...q.options, exclude: [node] } as typeof q.options }],
          on,
        );
        if (c === undefined || c.feasible) break;
        gains.push([node, over.drop - c.drop]);
      }
      if (!seen.some((c) => c.feasible && c.measurement.bytes < bestBytes)) {
        gains.sort((a, b) => b[1] - a[1]);
        const keep: string[] = [];
        for (const [node] of gains.slice(0, 4)) {
          keep.push(node);
          if (keep.length === 1) continue; // measured above
          const c = await tryCandidate(
            `${over.label} except ${keep.join(', ')}`,
            [{ step: 'quantize', options: { ...q.options, exclude: [...keep] } as typeof q.options }],
            on,
          );
          if (c === undefined || c.feasible) break;
        }
      }
    }
  }

  // 4. Latency: one measurement per model drifts with machine load, so the baseline and every candidate within the
  //    accuracy budget are timed again in interleaved rounds, and feasibility is decided on those medians.
  if (opts.objective === 'latency') {
    const within = seen.filter((c) => c.drop <= opts.maxAccuracyDrop);
    const feeds = await singleFeed(opts.search, model, opts.feed, opts.latencyBatch);
    const rounds = new Map<Candidate, number[]>([[baseline, []], ...within.map((c) => [c, []] as [Candidate, number[]])]);
    for (let round = 0; round < 3; round++) {
      for (const [c, times] of rounds) times.push(await latencyOf(c === baseline ? model : models.get(c)!, feeds, target));
    }
    for (const [c, times] of rounds) c.measurement.latencyMs = [...times].sort((a, b) => a - b)[1]!;
    for (const c of within) c.feasible = c.measurement.latencyMs < baseline.measurement.latencyMs;
  }

  const feasible = seen.filter((c) => c.feasible);
  const best = feasible.length === 0 ? undefined : feasible.reduce((a, b) => (score(b) < score(a) ? b : a));
  const all = [baseline, ...seen];
  const pareto = all.filter(
    (c) =>
      !all.some(
        (o) =>
          o !== c &&
          score(o) <= score(c) &&
          o.measurement.accuracy >= c.measurement.accuracy &&
          (score(o) < score(c) || o.measurement.accuracy > c.measurement.accuracy),
      ),
  );
  pareto.sort((a, b) => score(a) - score(b));
  return { model: best === undefined ? model : models.get(best)!, best, baseline, seen, pareto, stoppedBy };
}
