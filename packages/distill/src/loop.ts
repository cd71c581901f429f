import type { Batch, BatchLayout, BatchOptions, Dataset } from '@mc/datasets';
import { McError, type McWarning, type Model } from '@mc/ir';
import { scheduledLr } from './optimizer.js';
import { DISTILL_DEFAULTS, type DistillOptions, type OptimizerOptions, TRAIN_DEFAULTS } from './options.js';
import type { EpochReport, TrainReport } from './report.js';

/** What both engines derive from the options and the data, the same way. @internal */
export interface RunPlan {
  /** Classes of the dataset. */
  k: number;
  temperature: number;
  /** Weight of the soft (teacher) loss; 0 for fine-tuning. */
  alpha: number;
  unlabeled: boolean;
  train: Dataset;
  val: Dataset | undefined;
  batch: BatchOptions;
  epochs: number;
  seed: number;
  baseLr: number;
  optimizer: OptimizerOptions;
  /** L1 weight on BatchNormalization scales. */
  bnL1: number;
}

/** @internal */
export function planRun(technique: 'finetune' | 'distill', data: Dataset, o: DistillOptions, layout: BatchLayout): RunPlan {
  const unlabeled = technique === 'distill' && o.unlabeled === true;
  if (!unlabeled && !data.hasLabels) {
    throw new McError(
      'E_OPTION',
      `dataset '${data.name}' has no labels; ${technique === 'distill' ? 'pass unlabeled: true (--unlabeled) to let the teacher label it' : 'fine-tuning needs labels, or use distill with the original model as teacher'}`,
    );
  }
  const optimizer: OptimizerOptions =
    typeof o.optimizer === 'string' ? { type: o.optimizer } : (o.optimizer ?? { type: TRAIN_DEFAULTS.optimizer });
  const seed = o.seed ?? TRAIN_DEFAULTS.seed;
  let train = data;
  if (o.limit !== undefined && o.limit < train.size) train = train.subset(Array.from({ length: o.limit }, (_, i) => i));
  let val = o.validation;
  if (val === undefined && (o.validationSplit ?? 0) > 0) [train, val] = train.split(o.validationSplit!, seed);
  if (unlabeled) {
    train = train.withoutLabels();
    val = val?.withoutLabels();
  }
  const batch: BatchOptions = { batchSize: o.batchSize ?? TRAIN_DEFAULTS.batchSize, layout, seed };
  for (const key of ['scale', 'mean', 'std'] as const) if (o[key] !== undefined) Object.assign(batch, { [key]: o[key] });
  return {
    k: data.numClasses,
    temperature: o.temperature ?? DISTILL_DEFAULTS.temperature,
    alpha: technique === 'distill' ? (o.alpha ?? DISTILL_DEFAULTS.alpha) : 0,
    unlabeled,
    train,
    val,
    batch,
    epochs: o.epochs ?? TRAIN_DEFAULTS.epochs,
    seed,
    baseLr: o.learningRate ?? TRAIN_DEFAULTS.learningRate[optimizer.type],
    optimizer,
    bnL1: o.bnL1 ?? 0,
  };
}

/**
 * The 0/1 masks the options ask for: `'zeros'` marks the nonzero entries of every weight of rank ≥ 2 (pruned models
 * keep their zeros), an explicit record is checked against the trainable weights. @internal
 */
export function maskArrays(
  masks: DistillOptions['masks'],
  weights: ReadonlyMap<string, { data: ArrayLike<number>; rank: number }>,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  if (masks === 'zeros') {
    for (const [name, w] of weights)
      if (w.rank >= 2)
        out.set(
          name,
          Float32Array.from(w.data, (v) => (v !== 0 ? 1 : 0)),
        );
  } else if (masks !== undefined && masks !== 'none') {
    for (const [name, m] of Object.entries(masks)) {
      const w = weights.get(name);
      if (w === undefined) throw new McError('E_OPTION', `mask given for '${name}', which is not a trainable initializer of the model`);
      if (m.length !== w.data.length)
        throw new McError('E_OPTION', `mask for '${name}' has ${m.length} entries, the weight has ${w.data.length}`);
      out.set(
        name,
        Float32Array.from(m, (x) => (x ? 1 : 0)),
      );
    }
  }
  return out;
}

/** What an engine plugs into {@link runEpochs}. @internal */
export interface EngineHooks<S> {
  /** One optimizer step on a batch; returns the loss (a non-finite loss must leave the weights unchanged). */
  step(b: Batch, lr: number, stepSeed: number): Promise<number>;
  /** Loss and accuracy on the validation data, when there is any. */
  validate(): Promise<{ loss: number; accuracy: number } | undefined>;
  snapshot(): S;
  restore(s: S): void;
  /** The model with the current weights (for checkpoints). */
  model(): Model;
}

/** The epochs as both engines run them. @internal */
export interface EpochsResult {
  history: EpochReport[];
  stepMs: number[];
  steps: number;
  stoppedBy: TrainReport['stoppedBy'];
  bestEpoch?: number;
  warnings: McWarning[];
}

/**
 * Epochs of shuffled batches with the learning-rate schedule, progress events, per-epoch validation and checkpoints,
 * early stopping (the best epoch's weights restored), and a non-finite loss restoring the last good epoch. @internal
 */
export async function runEpochs<S>(plan: RunPlan, o: DistillOptions, hooks: EngineHooks<S>): Promise<EpochsResult> {
  const history: EpochReport[] = [];
  const stepMs: number[] = [];
  const warnings: McWarning[] = [];
  let lastGood = hooks.snapshot();
  let best: { loss: number; epoch: number; weights: S } | undefined;
  let stoppedBy: TrainReport['stoppedBy'] = 'epochs';
  let steps = 0;
  const stepsPerEpoch = Math.ceil(plan.train.size / (plan.batch.batchSize ?? TRAIN_DEFAULTS.batchSize));
  outer: for (let epoch = 0; epoch < plan.epochs; epoch++) {
    const t0 = performance.now();
    let lossSum = 0;
    let n = 0;
    let i = 0;
    let lr = plan.baseLr;
    const batchOpts: BatchOptions = { ...plan.batch, shuffle: true, epoch };
    if (o.augment !== undefined) batchOpts.augment = o.augment;
    for await (const b of plan.train.batches(batchOpts)) {
      o.signal?.throwIfAborted();
      lr = scheduledLr(plan.baseLr, o.schedule ?? TRAIN_DEFAULTS.schedule, epoch, i / stepsPerEpoch, plan.epochs);
      const ts = performance.now();
      const loss = await hooks.step(b, lr, plan.seed * 1_000_003 + steps);
      stepMs.push(performance.now() - ts);
      if (!Number.isFinite(loss)) {
        hooks.restore(lastGood);
        const msg = `loss became ${loss} at epoch ${epoch + 1}, step ${i + 1}; weights were restored to the last good epoch (${history.length}). Lower the learning rate (now ${lr}) or check the data scaling`;
        if ((o.onNaN ?? 'throw') === 'throw')
          throw new McError('E_NUMERIC', msg, { context: { step: `epoch ${epoch + 1} step ${i + 1}` } });
        warnings.push({ code: 'W_NUMERIC', message: msg });
        stoppedBy = 'nan-loss';
        break outer;
      }
      lossSum += loss * b.indices.length;
      n += b.indices.length;
      i++;
      steps++;
      o.onProgress?.({ type: 'step', epoch: epoch + 1, step: i, stepsPerEpoch, loss, lr });
      if (i % 8 === 0) await new Promise((r) => setImmediate(r)); // let abort signals and timers run
    }
    const v = await hooks.validate();
    const rec: EpochReport = { epoch: epoch + 1, loss: lossSum / Math.max(n, 1), lr, seconds: (performance.now() - t0) / 1000 };
    if (v !== undefined) {
      rec.valLoss = v.loss;
      rec.valAccuracy = v.accuracy;
    }
    history.push(rec);
    lastGood = hooks.snapshot();
    o.onProgress?.({
      type: 'epoch',
      epoch: epoch + 1,
      epochs: plan.epochs,
      loss: rec.loss,
      lr,
      seconds: rec.seconds,
      ...(v && { valLoss: v.loss, valAccuracy: v.accuracy }),
    });
    if (o.onCheckpoint) await o.onCheckpoint(hooks.model(), { epoch: epoch + 1, loss: rec.loss, ...(v && { valLoss: v.loss }) });
    if (v !== undefined && o.earlyStopping !== undefined) {
      if (best === undefined || v.loss < best.loss - (o.earlyStopping.minDelta ?? 0))
        best = { loss: v.loss, epoch: epoch + 1, weights: lastGood };
      else if (epoch + 1 - best.epoch >= o.earlyStopping.patience) {
        stoppedBy = 'early-stopping';
        break;
      }
    }
  }
  if (best !== undefined && stoppedBy === 'early-stopping') hooks.restore(best.weights);
  return { history, stepMs, steps, stoppedBy, ...(best !== undefined && { bestEpoch: best.epoch }), warnings };
}

/** The report fields both engines fill the same way. @internal */
export function reportOf(
  technique: 'finetune' | 'distill',
  plan: RunPlan,
  r: EpochsResult,
  started: number,
): Omit<TrainReport, 'backend' | 'engine' | 'engineReason' | 'trained' | 'masked'> {
  return {
    technique,
    epochs: r.history,
    steps: r.steps,
    seconds: (performance.now() - started) / 1000,
    stepMs: { median: median(r.stepMs.slice(1)), first: r.stepMs[0] ?? 0 },
    stoppedBy: r.stoppedBy,
    trainSamples: plan.train.size,
    ...(plan.val !== undefined && { validationSamples: plan.val.size }),
    ...(r.bestEpoch !== undefined && { bestEpoch: r.bestEpoch }),
    warnings: r.warnings,
  };
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
