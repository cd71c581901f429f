import type { Dataset } from '@mc/datasets';
import type { Model } from '@mc/ir';
import { validateOptions, type TrainOptions } from './options.js';
import type { TrainReport } from './report.js';
import { trainLoop } from './train.js';

/** What {@link finetune} and {@link distill} return: a new model (the input is untouched) and the report. */
export interface TrainResult {
  model: Model;
  report: TrainReport;
}

/**
 * Fine-tunes a model on labelled data with cross-entropy (plus optional BN-γ L1 and fixed pruning masks), on the
 * tfjs wasm backend. Returns a clone with trained initializers; graph, names and metadata are unchanged.
 *
 * @example
 * ```ts
 * const train = await loadMnist('../shared/data/mnist');
 * const { model, report } = await finetune(compressed, train, { epochs: 1, batchSize: 128, masks: 'zeros' });
 * ```
 */
export async function finetune(model: Model, data: Dataset, opts: TrainOptions = {}): Promise<TrainResult> {
  validateOptions(opts);
  return trainLoop({ technique: 'finetune', model, data, opts });
}
