import type { McWarning } from '@mc/ir';

/** One finished epoch. */
export interface EpochReport {
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  lr: number;
  seconds: number;
  valLoss?: number;
  valAccuracy?: number;
}

/**
 * What {@link finetune} and {@link distill} report (data, never printed by the library).
 *
 * @example
 * ```ts
 * const { report } = await finetune(model, data, { epochs: 1 });
 * report.epochs.at(-1)?.valAccuracy;
 * ```
 */
export interface TrainReport {
  technique: 'finetune' | 'distill';
  /** What computed the steps: 'onnxruntime-node' (engine 'ort') or the tfjs backend ('wasm'). */
  backend: string;
  /** The training engine that ran. */
  engine: 'ort' | 'wasm';
  /** Why that engine: requested, or what 'auto' found (e.g. the op with no onnxruntime gradient rule). */
  engineReason: string;
  epochs: EpochReport[];
  steps: number;
  seconds: number;
  /** Milliseconds per training step: median after the first, and the first (warm-up). */
  stepMs: { median: number; first: number };
  stoppedBy: 'epochs' | 'early-stopping' | 'nan-loss';
  bestEpoch?: number;
  trainSamples: number;
  validationSamples?: number;
  /** Initializers that were trained. */
  trained: string[];
  /** Initializers whose zeros were kept fixed. */
  masked: string[];
  warnings: McWarning[];
}
