import { type DatasetKind, loadDataset } from '@mc/datasets';
import { McError, type Model } from '@mc/ir';
import { GATE_THRESHOLDS } from '@mc/verify';
import { gate, gateFailure } from './gate.js';
import { accuracyOf } from './measure.js';
import { type OptimizeOptions, type OptimizeResult, optimize } from './optimize.js';

/** Options of {@link optimizeOnDataset}: {@link OptimizeOptions} with the data named on disk instead of loaded. */
export interface OptimizeDatasetOptions extends Omit<OptimizeOptions, 'search' | 'train' | 'maxAccuracyDrop'> {
  /** Labelled dataset kind and its folder: the training split is searched on, the test split checks the result. */
  readonly dataset: DatasetKind;
  readonly dir: string;
  /** Training samples the search scores candidates on (default {@link OPTIMIZE_DATA_DEFAULTS}). */
  readonly searchSamples?: number;
  /**
   * Training samples after the search samples for label-free recovery of candidates that overshoot, with objective
   * 'latency' only (default {@link OPTIMIZE_DATA_DEFAULTS}); 0 turns recovery off.
   */
  readonly recoverSamples?: number;
  /** Test samples of the final check (default: the whole test split). */
  readonly testLimit?: number;
  /** Largest accuracy loss in points (default `GATE_THRESHOLDS.optimize.maxAccuracyDrop` of `@mc/verify`). */
  readonly maxAccuracyDrop?: number;
  /** Check the chosen model on the test split before returning it (default true); a failed check throws E_VERIFY. */
  readonly verify?: boolean;
  /** The file the result is meant for, named in a failed check's error. */
  readonly output?: string;
}

/** What {@link optimizeOnDataset} uses for unset sample counts: for CLIs and docs. */
export const OPTIMIZE_DATA_DEFAULTS = { searchSamples: 5000, recoverSamples: 10000 } as const satisfies Required<
  Pick<OptimizeDatasetOptions, 'searchSamples' | 'recoverSamples'>
>;

/** What {@link optimizeOnDataset} returns: the search's result and the accuracy on the test split. */
export interface OptimizeDatasetResult extends OptimizeResult {
  /** The accuracy bound applied, in points. */
  readonly maxAccuracyDrop: number;
  /** Whether the chosen model passed the test-split gate (false when `verify` was off or nothing was chosen). */
  readonly verified: boolean;
  /** Top-1 accuracy of the input and the chosen model on the test split (the input's twice when nothing was chosen). */
  readonly test: { readonly before: number; readonly after: number; readonly drop: number; readonly samples: number };
}

/**
 * Splits a labelled dataset for {@link optimize} (search samples, then recovery samples from the training split), runs
 * the search, and checks the chosen model on the test split, which the search never saw.
 *
 * @example
 * ```ts
 * const r = await optimizeOnDataset(model, { dataset: 'mnist', dir: 'data/mnist', objective: 'size', maxAccuracyDrop: 0.3 });
 * if (r.best !== undefined) await saveOnnx(r.model, 'small.onnx');
 * ```
 */
export async function optimizeOnDataset(model: Model, opts: OptimizeDatasetOptions): Promise<OptimizeDatasetResult> {
  const { dataset, dir, searchSamples, recoverSamples, testLimit, maxAccuracyDrop, verify, output, ...search } = opts;
  const budget = maxAccuracyDrop ?? GATE_THRESHOLDS.optimize.maxAccuracyDrop;
  const nSearch = searchSamples ?? OPTIMIZE_DATA_DEFAULTS.searchSamples;
  const nRecover = opts.objective === 'latency' ? (recoverSamples ?? OPTIMIZE_DATA_DEFAULTS.recoverSamples) : 0;
  if (!(Number.isInteger(nSearch) && nSearch > 0) || !(Number.isInteger(nRecover) && nRecover >= 0)) {
    throw new McError(
      'E_OPTION',
      `--search-samples must be a positive integer and --recover-samples an integer >= 0, got ${nSearch} and ${nRecover}`,
    );
  }
  const trainSplit = await loadDataset(dataset, dir, { split: 'train', limit: nSearch + nRecover });
  const nS = Math.min(nSearch, trainSplit.size);
  const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
  const searchData = trainSplit.subset(range(0, nS), `${trainSplit.name}[search]`);
  const recoverData =
    trainSplit.size > nS && nRecover > 0 ? trainSplit.subset(range(nS, trainSplit.size), `${trainSplit.name}[recover]`) : undefined;
  const testData = await loadDataset(dataset, dir, { split: 'test', ...(testLimit !== undefined && { limit: testLimit }) });
  const r = await optimize(model, {
    ...search,
    search: searchData,
    maxAccuracyDrop: budget,
    ...(recoverData !== undefined && { train: recoverData }),
  });
  const feed = search.feed ?? {};
  let before: number;
  let after: number;
  const verified = r.best !== undefined && verify !== false;
  if (verified) {
    // The gate: the chosen model on the test split (never searched on), before anything is written.
    const g = await gate(model, r.model, {
      technique: 'optimize',
      heldOut: testData,
      maxAccuracyDrop: budget,
      feed: { ...feed, limit: testData.size },
    });
    if (!g.ok || g.accuracy === undefined) throw gateFailure(g, output);
    [before, after] = [g.accuracy.before, g.accuracy.after];
  } else {
    before = await accuracyOf(model, testData, feed);
    after = r.best === undefined ? before : await accuracyOf(r.model, testData, feed);
  }
  return { ...r, maxAccuracyDrop: budget, verified, test: { before, after, drop: (before - after) * 100, samples: testData.size } };
}
