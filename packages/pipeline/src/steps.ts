import type { Dataset } from '@mc/datasets';
import type { DistillOptions, TrainOptions } from '@mc/distill';
import { McError, type McWarning, type Model, type ModelStats } from '@mc/ir';
import { factorize, type FactorizeOptions } from '@mc/lowrank';
import { prune, type PruneOptions, pruneMasks, RECONSTRUCT_DEFAULTS } from '@mc/prune';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { type FeedOptions, feedsFrom } from './feeds.js';

/** The report every technique returns, as far as the pipeline reads it. */
export interface TechniqueReport {
  technique: string;
  before?: ModelStats;
  after?: ModelStats;
  passedThrough?: readonly { node: string; opType: string; reason: string }[];
  /** Per-node records; `bytesBefore` where the technique reports weight bytes. */
  nodes?: readonly { node: string; opType: string; bytesBefore?: number }[];
  warnings?: readonly McWarning[];
}

/** What a step can use besides its options. */
export interface StepContext {
  /** The pipeline's input model (the teacher of `distill`). */
  original: Model;
  /** Labelled training data for finetune/distill; inputs for int8-static calibration. */
  data?: Dataset;
  /** How dataset samples become model inputs (scale, limits). */
  feed?: FeedOptions;
  signal?: AbortSignal;
}

/** Options a recipe gives `quantize` (calibration, runner and callbacks come from the pipeline). */
export type QuantizeStepOptions = QuantizeOptions extends infer Q
  ? Q extends QuantizeOptions
    ? Omit<Q, 'calibration' | 'runner' | 'onProgress' | 'signal'> & { calibrationSamples?: number }
    : never
  : never;

/** Omit over each member of a union (plain Omit keeps only the keys all members share). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** One step of a pipeline. */
export type PipelineStep =
  | { step: 'lowrank'; options?: DistributiveOmit<FactorizeOptions, 'onProgress' | 'signal'> }
  | { step: 'quantize'; options: QuantizeStepOptions }
  | {
      step: 'prune';
      options: DistributiveOmit<PruneOptions, 'onProgress' | 'signal' | 'importance' | 'calibration'> & {
        importance?: 'l1' | 'l2' | 'bn';
        /** Channels: refit the layers that read removed channels on `calibrationSamples` samples of the data. */
        reconstruct?: boolean;
        calibrationSamples?: number;
      };
    }
  | { step: 'finetune'; options?: Omit<TrainOptions, 'onProgress' | 'signal' | 'validation'> }
  | { step: 'distill'; options?: Omit<DistillOptions, 'onProgress' | 'signal' | 'validation'> };

/** Step names. */
export type StepName = PipelineStep['step'];

interface StepDef {
  /** Option keys a recipe may set (the rest are filled by the pipeline or are callbacks). */
  keys: readonly string[];
  run(model: Model, options: Record<string, unknown>, ctx: StepContext): Promise<{ model: Model; report: TechniqueReport }>;
}

function needData(step: string, ctx: StepContext): Dataset {
  if (ctx.data === undefined) {
    throw new McError('E_OPTION', `step '${step}' needs data; pass --dataset and --data-dir (or 'data' in the recipe)`, {
      context: { step },
    });
  }
  return ctx.data;
}

const TRAIN_KEYS = [
  'epochs',
  'batchSize',
  'optimizer',
  'learningRate',
  'schedule',
  'weightDecay',
  'seed',
  'limit',
  'validationSplit',
  'earlyStopping',
  'augment',
  'scale',
  'mean',
  'std',
  'bnL1',
  'masks',
  'freeze',
  'onNaN',
];

/** Training keeps the zeros of pruned weights: their masks go to the optimizer (a recipe's own `masks` wins). */
function masksOf(model: Model): { masks?: Record<string, Uint8Array> } {
  const m = pruneMasks(model);
  return m.size === 0 ? {} : { masks: Object.fromEntries(m) };
}

/** The step table: one line per technique. */
export const STEPS: Readonly<Record<StepName, StepDef>> = {
  lowrank: {
    keys: ['error', 'rank', 'ratio', 'energy', 'onlyIfSmaller', 'seed'],
    run: async (model, options, ctx) =>
      factorize(model, { ...(options as unknown as FactorizeOptions), ...(ctx.signal !== undefined && { signal: ctx.signal }) }),
  },
  quantize: {
    keys: [
      'mode',
      'exclude',
      'target',
      'keepIoTypes',
      'blockList',
      'perChannel',
      'symmetric',
      'reduceRange',
      'method',
      'percentile',
      'activationType',
      'bins',
      'blockSize',
      'format',
      'bits',
      'seed',
      'minElements',
      'calibrationSamples',
    ],
    run: async (model, options, ctx) => {
      const { calibrationSamples, ...rest } = options as { calibrationSamples?: number; mode: string };
      const opts = { ...rest, ...(ctx.signal !== undefined && { signal: ctx.signal }) } as Record<string, unknown>;
      if (rest.mode === 'int8-static') {
        const data = needData('quantize', ctx);
        opts.calibration = feedsFrom(data, model, { ...ctx.feed, limit: calibrationSamples ?? 256 });
      }
      return quantize(model, opts as unknown as QuantizeOptions);
    },
  },
  prune: {
    keys: [
      'mode',
      'sparsity',
      'scope',
      'nm',
      'storage',
      'minElements',
      'codebook',
      'ratio',
      'importance',
      'foldBatchNorm',
      'minChannels',
      'exclude',
      'reconstruct',
      'calibrationSamples',
    ],
    run: async (model, options, ctx) => {
      const { reconstruct, calibrationSamples, ...rest } = options as { reconstruct?: boolean; calibrationSamples?: number };
      const calibration =
        reconstruct === true
          ? feedsFrom(needData('prune', ctx), model, { ...ctx.feed, limit: calibrationSamples ?? RECONSTRUCT_DEFAULTS.samples })
          : undefined;
      return prune(model, {
        ...(rest as unknown as PruneOptions),
        ...(calibration !== undefined && { calibration }),
        ...(ctx.signal !== undefined && { signal: ctx.signal }),
      });
    },
  },
  finetune: {
    keys: TRAIN_KEYS,
    // @mc/distill (and tfjs with it) loads when a recipe trains, not with the pipeline.
    run: async (model, options, ctx) =>
      (await import('@mc/distill')).finetune(model, needData('finetune', ctx), {
        ...(ctx.feed?.scale !== undefined && { scale: ctx.feed.scale }),
        ...masksOf(model),
        ...options,
      } as TrainOptions),
  },
  distill: {
    keys: [...TRAIN_KEYS, 'temperature', 'alpha', 'unlabeled'],
    run: async (model, options, ctx) =>
      (await import('@mc/distill')).distill(ctx.original, model, needData('distill', ctx), {
        ...(ctx.feed?.scale !== undefined && { scale: ctx.feed.scale }),
        ...masksOf(model),
        ...options,
      } as DistillOptions),
  },
};

/** Every step name, in the order docs list them. */
export const STEP_NAMES = Object.keys(STEPS) as StepName[];
