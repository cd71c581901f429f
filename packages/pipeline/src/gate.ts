import type { Dataset } from '@mc/datasets';
import { McError, type Model } from '@mc/ir';
import { type AgreementReport, checkAgreement, type GateTechnique, GATE_THRESHOLDS, type RunModelOptions } from '@mc/verify';
import { collectFeeds, type FeedOptions, type Feeds, feedsFrom } from './feeds.js';
import { evaluateModel } from './measure.js';

/** Options of {@link gate}. */
export interface GateOptions {
  /** Whose row of `GATE_THRESHOLDS` (in `@mc/verify`) applies. */
  technique: GateTechnique;
  /**
   * Data the technique never saw (the test split): with labels, the candidate's top-1 accuracy on it may be at most
   * `maxAccuracyDrop` points below the reference's; without, the cosine bound is checked on its first batches.
   * Without it, agreement is checked on synthetic inputs.
   */
  heldOut?: Dataset;
  /**
   * Without `heldOut`: sample inputs as the model takes them (see `namedFeeds`), on which agreement is checked with the
   * cosine bound instead of synthetic inputs, and what they are, for the report.
   */
  samples?: { readonly feeds: readonly Feeds[]; readonly name: string };
  /** Default: the technique's `maxAccuracyDrop` in `GATE_THRESHOLDS`. */
  maxAccuracyDrop?: number;
  /** Pixel scale (also the range of synthetic float inputs) and how many held-out samples are scored (default 1000). */
  feed?: FeedOptions;
  /** Session options of the candidate. */
  candidate?: RunModelOptions;
}

/**
 * What {@link gate} uses when unset: held-out samples scored for the accuracy bound (callers loading the test split
 * need load no more), and unlabelled sample inputs checked for agreement.
 * @example
 * loadDataset('mnist', dir, { split: 'test', limit: GATE_DEFAULTS.heldOutSamples });
 */
export const GATE_DEFAULTS = { heldOutSamples: 1000, samples: 16 } as const;

/** The verdict of {@link gate}: data. */
export interface GateReport extends AgreementReport {
  /** With `heldOut`: top-1 accuracy of both models (fractions) and the drop in points. */
  accuracy?: { before: number; after: number; drop: number; maxDrop: number; samples: number; dataset: string };
}

/**
 * The verification gate every transforming command runs before it writes. Without data the candidate must agree
 * with the reference on synthetic inputs within its technique's thresholds (see `GATE_THRESHOLDS`); given held-out
 * data it must lose at most `maxAccuracyDrop` points of top-1 accuracy there. Either way NaN/Inf outputs the reference
 * does not give, changed output shapes and (lossless paths) any difference fail. Returns the report; `ok: false` lists every bound missed.
 *
 * @example
 * ```ts
 * const r = await gate(model, quantized, { technique: 'int8-static', heldOut: mnistTest, feed: { scale: 1 } });
 * if (!r.ok) throw gateFailure(r);
 * ```
 */
export async function gate(reference: Model, candidate: Model, opts: GateOptions): Promise<GateReport> {
  const scale = opts.feed?.scale;
  const common = {
    technique: opts.technique,
    ...(opts.candidate !== undefined && { candidate: opts.candidate }),
    ...(scale !== undefined && { scale }),
  };
  if (opts.heldOut === undefined) {
    const s = opts.samples;
    return checkAgreement(reference, candidate, s === undefined ? common : { ...common, feeds: s.feeds, inputs: s.name });
  }
  const feeds = await collectFeeds(feedsFrom(opts.heldOut, reference, { ...opts.feed, limit: 128, batchSize: 32 }), 4);
  // On labelled data the accuracy bound is the measure: the agreement check keeps only NaN/Inf, shapes and exactness.
  // Unlabelled data keeps the cosine bound instead.
  const labelled = opts.heldOut.hasLabels;
  const report: GateReport = await checkAgreement(reference, candidate, {
    ...common,
    feeds,
    inputs: `${opts.heldOut.name} data`,
    cosine: !labelled,
  });
  if (!report.ok || !labelled) return report;
  const maxDrop = opts.maxAccuracyDrop ?? GATE_THRESHOLDS[opts.technique].maxAccuracyDrop;
  const feed: FeedOptions = { ...opts.feed, limit: opts.feed?.limit ?? GATE_DEFAULTS.heldOutSamples };
  const [a, b] = [await evaluateModel(reference, opts.heldOut, feed), await evaluateModel(candidate, opts.heldOut, feed)];
  const drop = (a.top1 - b.top1) * 100;
  report.accuracy = { before: a.top1, after: b.top1, drop, maxDrop, samples: b.total, dataset: b.dataset };
  // Both models at chance level means the data is not fed as the models were trained (most often the pixel scale):
  // a bound on the drop from there would pass a destroyed model. (An untrained input that training lifts is fine.)
  const classes = opts.heldOut.numClasses;
  if (classes >= 2 && a.top1 <= 2 / classes && b.top1 <= 2 / classes) {
    report.failures.push(
      `the input model itself scores ${(a.top1 * 100).toFixed(2)}% on ${b.dataset} (chance is ${(100 / classes).toFixed(1)}%), so the data does not reach it as it was trained and an accuracy check there means nothing: check --scale (1 for models trained on raw 0-255 pixels) and the dataset`,
    );
    report.ok = false;
    return report;
  }
  if (!(drop <= maxDrop + 1e-9)) {
    report.failures.push(
      `top-1 accuracy on ${b.dataset} fell ${drop.toFixed(2)} points (${(a.top1 * 100).toFixed(2)}% -> ${(b.top1 * 100).toFixed(2)}%, ${b.total} samples), more than --max-accuracy-drop ${maxDrop}`,
    );
    report.ok = false;
  }
  return report;
}

/**
 * The `E_VERIFY` error of a failed gate: what failed, for which technique, and the fixes.
 *
 * @example
 * ```ts
 * if (!r.ok) throw gateFailure(r, 'small.onnx');
 * ```
 */
export function gateFailure(r: GateReport, output?: string): McError {
  const where = output === undefined ? '' : `; nothing was written to ${output}`;
  return new McError(
    'E_VERIFY',
    `verification failed (${r.technique}, ${r.inputs}): ${r.failures.join('; ')}${where} — use gentler settings, pass --max-accuracy-drop to allow more loss with --dataset, or --no-verify to write it unverified`,
    {
      ...(output !== undefined && { context: { file: output } }),
    },
  );
}

/** A node a technique left alone, and why. */
export interface Untouched {
  node: string;
  opType: string;
  reason: string;
}

/** Why a technique's output is its input: one line, plus every node it left alone with the reason. */
export interface NothingChanged {
  reason: string;
  nodes: Untouched[];
}

/** The parts of a technique report {@link nothingChanged} reads. */
export interface ChangeReport {
  technique: string;
  passedThrough?: readonly Untouched[];
  nodes?: readonly { node: string; opType: string; replaced?: boolean; reason?: string }[];
  achieved?: number;
  nothingToPrune?: string;
  groups?: readonly { roots: readonly string[]; channels: number; fixed: number; reasons: readonly string[] }[];
}

/**
 * Whether a technique found nothing to act on, from its report: no layer factorised (lowrank), no node quantized
 * (quantize), nothing pruned (prune). Training always changes weights and is never "nothing".
 *
 * @example
 * ```ts
 * const n = nothingChanged(report);
 * if (n) console.warn(`nothing changed: ${n.reason}`);
 * ```
 */
export function nothingChanged(report: ChangeReport): NothingChanged | undefined {
  const passed = [...(report.passedThrough ?? [])];
  const first = (nodes: Untouched[]): string =>
    nodes.length === 0
      ? ''
      : `: ${nodes
          .slice(0, 3)
          .map((n) => `${n.opType} '${n.node}' (${n.reason})`)
          .join(', ')}${nodes.length > 3 ? `, +${nodes.length - 3} more` : ''}`;
  switch (report.technique) {
    case 'lowrank': {
      if ((report.nodes ?? []).some((n) => n.replaced === true)) return undefined;
      const nodes = [...(report.nodes ?? []).map((n) => ({ node: n.node, opType: n.opType, reason: n.reason ?? 'kept' })), ...passed];
      return { reason: `no layer was factorised${first(nodes)}`, nodes };
    }
    case 'quantize': {
      if ((report.nodes ?? []).length > 0) return undefined;
      return { reason: `no node was quantized${first(passed)}`, nodes: passed };
    }
    case 'prune': {
      if ((report.achieved ?? 0) > 0) return undefined;
      const groups = (report.groups ?? [])
        .filter((g) => g.fixed === g.channels)
        .map((g) => ({ node: g.roots.join(', '), opType: 'group', reason: g.reasons.join('; ') }));
      const nodes = [...passed, ...groups];
      return {
        reason: `${report.nothingToPrune ?? 'no weight or channel was pruned'}${report.nothingToPrune === undefined ? first(nodes) : ''}`,
        nodes,
      };
    }
    default:
      return undefined;
  }
}
