import type { AugmentOptions, Dataset } from '@mc/datasets';
import { McError, type Model } from '@mc/ir';

/** Optimizers: Adam (Kingma & Ba 2015) or SGD with (Nesterov) momentum, PyTorch update rules. */
export type OptimizerOptions =
  | { type: 'adam'; beta1?: number; beta2?: number; epsilon?: number }
  | { type: 'sgd'; momentum?: number; nesterov?: boolean };

/** Learning-rate schedule over epochs (step-wise for cosine). */
export type ScheduleOptions =
  | 'constant'
  | 'cosine'
  | { type: 'step'; every: number; gamma: number }
  | { type: 'exponential'; gamma: number };

/** Progress events, one per step and one per epoch. */
export type TrainProgress =
  | { type: 'step'; epoch: number; step: number; stepsPerEpoch: number; loss: number; lr: number }
  | { type: 'epoch'; epoch: number; epochs: number; loss: number; valLoss?: number; valAccuracy?: number; lr: number; seconds: number };

/** A checkpoint callback: called after every finished epoch with a model holding the weights so far. */
export type CheckpointFn = (model: Model, info: { epoch: number; loss: number; valLoss?: number }) => void | Promise<void>;

/**
 * Options shared by {@link finetune} and {@link distill}.
 *
 * @example
 * ```ts
 * const opts: TrainOptions = { epochs: 2, batchSize: 128, optimizer: { type: 'adam' }, learningRate: 1e-3, seed: 1 };
 * ```
 */
export interface TrainOptions {
  /** Default 1. */
  epochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** Default `{type: 'adam'}`. */
  optimizer?: 'adam' | 'sgd' | OptimizerOptions;
  /** Default 1e-3 (Adam) or 0.01 (SGD). */
  learningRate?: number;
  /** Default 'constant'. */
  schedule?: ScheduleOptions;
  /** L2 weight decay added to the gradient (coupled). Default 0. */
  weightDecay?: number;
  /** Seed for shuffling, augmentation and dropout. Default 0. */
  seed?: number;
  /** Use only the first `limit` training samples. */
  limit?: number;
  /** Hold out this fraction of the training data (seeded) for validation and early stopping. Default 0. */
  validationSplit?: number;
  /** A separate validation set (overrides `validationSplit`). */
  validation?: Dataset;
  /** Stop when the validation loss has not improved by `minDelta` for `patience` epochs; restore the best weights. */
  earlyStopping?: { patience: number; minDelta?: number };
  /** Seeded augmentation of image batches. */
  augment?: AugmentOptions;
  /** Batch scaling: default 1/255 for byte images. */
  scale?: number;
  /** Per-channel normalisation after `scale`. */
  mean?: readonly number[];
  std?: readonly number[];
  /**
   * BatchNormalization while training: 'batch' (default, as Keras `fit` and PyTorch `train()`) normalises with each
   * batch's statistics and moves the running mean/variance towards them, so the trained model carries statistics of
   * its new weights (essential after pruning); 'frozen' keeps the running statistics and trains γ, β only.
   */
  batchNorm?: 'batch' | 'frozen';
  /**
   * Momentum of the running statistics, m ← m·momentum + batch·(1 − momentum): the node's `momentum` attribute when
   * set, else this. Default 0.99 (Keras). Smaller values adapt faster in short fine-tunes.
   */
  bnMomentum?: number;
  /** L1 penalty λ·Σ|γ| on BatchNormalization scales (network slimming, Liu et al. 2017). Default 0. */
  bnL1?: number;
  /**
   * Keep pruned weights at zero: 'zeros' masks every trainable weight at its current zeros; a record gives explicit
   * masks (1 keep, 0 fixed at zero) by initializer name. Default 'none'.
   */
  masks?: 'none' | 'zeros' | Readonly<Record<string, ArrayLike<number>>>;
  /** Initializer names (or a predicate) to leave untrained. */
  freeze?: readonly string[] | ((initializerName: string) => boolean);
  /** 'throw' (default): a NaN/Inf loss throws E_NUMERIC; 'stop': return the last good weights with `stoppedBy: 'nan-loss'`. */
  onNaN?: 'throw' | 'stop';
  /**
   * What computes the steps: 'ort' generates one ONNX graph (forward, loss and the gradient of every weight) and runs
   * it in onnxruntime-node (native kernels; the optimizer stays in JS); 'wasm' interprets the model with tfjs ops on
   * @tensorflow/tfjs-backend-wasm. 'auto' (default) takes 'ort' when every op on a path to a trained weight has a
   * gradient rule there, else 'wasm'; the report says which ran and why.
   */
  engine?: 'auto' | 'ort' | 'wasm';
  /** Intra-op threads of the 'ort' engine (onnxruntime's own default when unset). The 'wasm' engine uses one. */
  threads?: number;
  onProgress?: (event: TrainProgress) => void;
  onCheckpoint?: CheckpointFn;
  signal?: AbortSignal;
}

/**
 * Options of {@link distill}: Hinton et al. 2015, loss = α·T²·CE(σ(t/T), σ(s/T)) + (1 − α)·CE(y, σ(s)).
 *
 * @example
 * ```ts
 * const opts: DistillOptions = { temperature: 4, alpha: 0.9, epochs: 5 };
 * ```
 */
export interface DistillOptions extends TrainOptions {
  /** Softmax temperature T. Default 4. */
  temperature?: number;
  /** Weight α of the soft (teacher) loss. Default 0.9. */
  alpha?: number;
  /** Never read labels: the teacher's arg-max stands in for the hard label (data distillation). Default false. */
  unlabeled?: boolean;
}

/**
 * What {@link finetune} and {@link distill} use for an option left unset: for CLIs (`--help` shows these) and docs.
 * `learningRate` depends on the optimizer.
 * @example
 * TRAIN_DEFAULTS.learningRate[TRAIN_DEFAULTS.optimizer]; // 1e-3
 */
export const TRAIN_DEFAULTS = {
  epochs: 1,
  batchSize: 64,
  optimizer: 'adam',
  learningRate: { adam: 1e-3, sgd: 0.01 },
  schedule: 'constant',
  seed: 0,
  masks: 'none',
  engine: 'auto',
} as const satisfies Required<Pick<TrainOptions, 'epochs' | 'batchSize' | 'schedule' | 'seed' | 'masks' | 'engine'>> & {
  optimizer: OptimizerOptions['type'];
  learningRate: Record<OptimizerOptions['type'], number>;
};

/**
 * What {@link distill} uses for its own options left unset.
 * @example
 * DISTILL_DEFAULTS.temperature; // 4
 */
export const DISTILL_DEFAULTS = { temperature: 4, alpha: 0.9 } as const satisfies Required<Pick<DistillOptions, 'temperature' | 'alpha'>>;

/** @internal Throws E_OPTION for bad option values before any work starts. */
export function validateOptions(o: DistillOptions): void {
  const bad = (what: string, v: unknown, fix: string) => {
    throw new McError('E_OPTION', `${what} ${JSON.stringify(v)} is invalid; ${fix}`);
  };
  if (o.epochs !== undefined && !(Number.isInteger(o.epochs) && o.epochs >= 1)) bad('epochs', o.epochs, 'use an integer >= 1');
  if (o.batchSize !== undefined && !(Number.isInteger(o.batchSize) && o.batchSize >= 1))
    bad('batchSize', o.batchSize, 'use an integer >= 1');
  if (o.learningRate !== undefined && !(o.learningRate > 0 && Number.isFinite(o.learningRate)))
    bad('learningRate', o.learningRate, 'use a positive number such as 1e-3');
  if (o.validationSplit !== undefined && !(o.validationSplit >= 0 && o.validationSplit < 1))
    bad('validationSplit', o.validationSplit, 'use a fraction in [0, 1), e.g. 0.1');
  if (o.temperature !== undefined && !(o.temperature > 0)) bad('temperature', o.temperature, 'use a positive number, typically 2–20');
  if (o.alpha !== undefined && !(o.alpha >= 0 && o.alpha <= 1)) bad('alpha', o.alpha, 'use a weight in [0, 1]');
  if (o.bnL1 !== undefined && !(o.bnL1 >= 0)) bad('bnL1', o.bnL1, 'use a number >= 0, e.g. 1e-4');
  if (o.batchNorm !== undefined && o.batchNorm !== 'batch' && o.batchNorm !== 'frozen')
    bad('batchNorm', o.batchNorm, "use 'batch' or 'frozen'");
  if (o.bnMomentum !== undefined && !(o.bnMomentum >= 0 && o.bnMomentum < 1))
    bad('bnMomentum', o.bnMomentum, 'use a number in [0, 1), e.g. 0.99');
  if (o.weightDecay !== undefined && !(o.weightDecay >= 0)) bad('weightDecay', o.weightDecay, 'use a number >= 0');
  if (o.earlyStopping !== undefined && !(Number.isInteger(o.earlyStopping.patience) && o.earlyStopping.patience >= 1)) {
    bad('earlyStopping.patience', o.earlyStopping.patience, 'use an integer >= 1');
  }
  if (o.earlyStopping !== undefined && o.validation === undefined && !(o.validationSplit! > 0)) {
    bad('earlyStopping', o.earlyStopping, 'it needs validation data: set validationSplit (e.g. 0.1) or validation');
  }
  if (o.engine !== undefined && o.engine !== 'auto' && o.engine !== 'ort' && o.engine !== 'wasm')
    bad('engine', o.engine, "use 'auto', 'ort' or 'wasm'");
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1)) bad('threads', o.threads, 'use an integer >= 1');
  const opt = typeof o.optimizer === 'string' ? o.optimizer : o.optimizer?.type;
  if (opt !== undefined && opt !== 'adam' && opt !== 'sgd') bad('optimizer', o.optimizer, "use 'adam' or 'sgd'");
}
