import {
  distill as distillModels,
  finetune as finetuneModel,
  type DistillOptions,
  TRAIN_DEFAULTS,
  type TrainOptions,
  type TrainProgress,
  type TrainReport,
} from '@mc/distill';
import type { Model } from '@mc/ir';
import { DATA_FLAGS, loadDataFlags } from '../data-flags.js';
import { UsageError } from '../exit-codes.js';
import { type CliIO, defined, defineCommand, type FlagValues, needPositionals, type OptionFlags } from '../flags.js';
import { loadModel, saveModel } from '../formats.js';
import { formatTable } from '../table.js';
import { assertFiniteWeights, type GateTechnique } from '@mc/verify';
import { gateLines, VERIFY_FLAGS, type VerifyFlagValues, verifyWritten } from '../verify-gate.js';
import { accuracyOf } from './eval.js';
import { SUMMARY } from './summaries.js';

const T = TRAIN_DEFAULTS;

/** Flags shared by `mc finetune`, `mc distill` and `mc prune --finetune`, typed against TrainOptions. @internal */
export const TRAIN_FLAGS = {
  ...DATA_FLAGS,
  epochs: { type: 'number', description: 'passes over the training data', default: T.epochs },
  seed: { type: 'number', description: 'seed of shuffling, augmentation and dropout', default: T.seed },
  masks: { type: 'string', choices: ['none', 'zeros'], description: "'zeros' keeps pruned (zero) weights at zero", default: T.masks },
  engine: {
    type: 'string',
    choices: ['auto', 'ort', 'wasm'],
    description: "training engine: 'ort' (onnxruntime-node), 'wasm' (tfjs); 'auto' takes ort when every op has a gradient rule there",
    default: T.engine,
  },
  threads: { type: 'number', arg: 'n', description: "intra-op threads of the 'ort' engine (default: onnxruntime's)" },
  'batch-size': { type: 'number', arg: 'n', description: 'samples per step', default: T.batchSize },
  'learning-rate': null, // --lr
  lr: { type: 'number', arg: 'x', description: `learning rate (default ${T.learningRate.adam} for adam, ${T.learningRate.sgd} for sgd)` },
  optimizer: { type: 'string', choices: ['adam', 'sgd'], description: 'optimizer (sgd = momentum 0.9)', default: T.optimizer },
  schedule: { type: 'string', choices: ['constant', 'cosine'], description: 'learning-rate schedule', default: T.schedule },
  'weight-decay': { type: 'number', arg: 'x', description: 'L2 weight decay' },
  'validation-split': { type: 'number', arg: 'f', description: 'hold out this fraction of the training data for validation' },
  validation: null, // --validation-split
  'early-stopping': null, // --patience
  patience: {
    type: 'number',
    arg: 'n',
    description: 'early stopping: stop after n epochs without validation improvement (needs --validation-split)',
  },
  'bn-l1': { type: 'number', arg: 'λ', description: 'L1 penalty on BatchNormalization scales (network slimming)' },
  'batch-norm': {
    type: 'string',
    choices: ['batch', 'frozen'],
    description: 'BatchNormalization while training: batch statistics (and running-stat updates) or frozen running statistics',
  },
  'bn-momentum': { type: 'number', arg: 'm', description: 'momentum of the BatchNormalization running statistics' },
  augment: null, // --augment-crop, --augment-flip
  'augment-crop': { type: 'number', arg: 'p', description: 'augment: pad p pixels and take a random crop' },
  'augment-flip': { type: 'boolean', description: 'augment: random horizontal flips' },
  mean: null,
  std: null,
  freeze: null,
  'on-na-n': null, // always 'throw': the checkpoint on disk is the last good epoch
  'on-progress': null,
  'on-checkpoint': null,
  signal: null,
  eval: { type: 'boolean', description: 'score input and output models on the test split through onnxruntime-node' },
  json: { type: 'boolean', description: 'print the report as JSON' },
} as const satisfies OptionFlags<TrainOptions>;

/** Parsed training flags (any command's values that include TRAIN_FLAGS and VERIFY_FLAGS). @internal */
export type TrainFlagValues = FlagValues<typeof TRAIN_FLAGS> & VerifyFlagValues;

/** TrainOptions from parsed flags, with progress on the terminal and a checkpoint saved after every epoch. @internal */
export function trainOptionsOf(f: TrainFlagValues, io: CliIO, checkpoint: (m: Model) => Promise<unknown>): TrainOptions {
  if (f.patience !== undefined && f['validation-split'] === undefined)
    throw new UsageError('--patience needs --validation-split (e.g. 0.1)');
  const show = !io.quiet && f.json !== true;
  const crop = f['augment-crop'];
  const o: TrainOptions = {
    epochs: f.epochs,
    batchSize: f['batch-size'],
    seed: f.seed,
    optimizer: f.optimizer,
    schedule: f.schedule,
    masks: f.masks,
    engine: f.engine,
    ...defined({
      threads: f.threads,
      learningRate: f.lr,
      weightDecay: f['weight-decay'],
      validationSplit: f['validation-split'],
      earlyStopping: f.patience === undefined ? undefined : { patience: f.patience },
      bnL1: f['bn-l1'],
      batchNorm: f['batch-norm'],
      bnMomentum: f['bn-momentum'],
      scale: f.scale,
      augment:
        crop !== undefined || f['augment-flip'] === true
          ? { ...defined({ crop }), ...(f['augment-flip'] === true && { flip: true }) }
          : undefined,
    }),
    onCheckpoint: async (m) => void (await checkpoint(m)),
  };
  if (show) {
    let last = 0;
    o.onProgress = (e: TrainProgress) => {
      if (e.type === 'epoch') {
        const val = e.valAccuracy === undefined ? '' : `, val loss ${e.valLoss!.toFixed(4)}, val acc ${(e.valAccuracy * 100).toFixed(2)}%`;
        io.err(`epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)}${val} (${e.seconds.toFixed(1)} s)`);
      } else if (io.isTTY && Date.now() - last > 2000) {
        last = Date.now();
        io.err(`  epoch ${e.epoch} step ${e.step}/${e.stepsPerEpoch} loss ${e.loss.toFixed(4)}`);
      }
    };
  }
  return o;
}

/** Report printing shared by finetune and distill. @internal */
export function printTrainReport(
  io: CliIO,
  f: TrainFlagValues,
  out: string,
  report: TrainReport,
  acc?: { before: number; after: number; dataset: string },
  verify?: string[],
  summary?: TrainingSummary,
): void {
  if (f.json === true) {
    io.out(
      JSON.stringify(
        { output: out, ...summary?.json, ...report, ...(acc && { accuracy: acc }), verified: f['no-verify'] !== true },
        null,
        2,
      ),
    );
    return;
  }
  const rows = report.epochs.map((e) => [
    e.epoch,
    e.loss.toFixed(4),
    e.valLoss?.toFixed(4) ?? '',
    e.valAccuracy === undefined ? '' : `${(e.valAccuracy * 100).toFixed(2)}%`,
    e.lr.toExponential(2),
    e.seconds.toFixed(1),
  ]);
  const lines = [
    ...(summary === undefined ? [] : [...summary.lines, '']),
    formatTable(['epoch', 'loss', 'val loss', 'val acc', 'lr', 's'], rows),
  ];
  lines.push(
    `${report.technique}: ${report.steps} steps on ${report.trainSamples} samples in ${report.seconds.toFixed(1)} s (${report.backend}, ${report.stepMs.median.toFixed(0)} ms/step), stopped by ${report.stoppedBy}${report.bestEpoch ? ` (best epoch ${report.bestEpoch})` : ''}`,
  );
  if (report.masked.length > 0) lines.push(`kept zeros fixed in ${report.masked.length} weights`);
  for (const w of report.warnings) lines.push(`warning: ${w.message}`);
  if (acc) lines.push(`top-1 on ${acc.dataset}: ${(acc.before * 100).toFixed(2)}% -> ${(acc.after * 100).toFixed(2)}%`);
  lines.push(...(verify ?? []), `wrote ${out}`);
  io.out(lines.join('\n'));
}

/** What a command that trains as one of its steps prints before the training report (text) and merges into `--json`. */
export interface TrainingSummary {
  readonly lines: readonly string[];
  readonly json: Readonly<Record<string, unknown>>;
}

/**
 * @internal Runs training for finetune/distill: load data, train with checkpoints, verify against `input.model` on the
 * test split (a failure removes the checkpoint and exits 5), save, optionally evaluate. `summary` (e.g. what pruning
 * removed, figures before and after) is computed from the training's result once it is saved, and printed ahead of the
 * training report.
 */
export async function runTraining<R extends { model: Model; report: TrainReport }>(
  f: TrainFlagValues,
  io: CliIO,
  input: { model: Model; file: string; technique: GateTechnique },
  out: string,
  train: (data: NonNullable<Awaited<ReturnType<typeof loadDataFlags>>>, opts: TrainOptions) => Promise<R>,
  summary?: (result: R) => Promise<TrainingSummary>,
): Promise<void> {
  const data = await loadDataFlags(f, 'train');
  if (data === undefined) throw new UsageError('training needs --dataset mnist|cifar10|npy and --data-dir <folder>');
  const opts = trainOptionsOf(f, io, (m) => saveModel(m, out, input.file));
  const result = await train(data, opts);
  const { model, report } = result;
  // The checkpoints are already at `out`: a failed check removes them, so nothing unverified is left.
  const verify = await verifyWritten(f, io, { reference: input.model, candidate: model, technique: input.technique, output: out });
  await saveModel(model, out, input.file);
  let acc: { before: number; after: number; dataset: string } | undefined;
  if (f.eval === true) {
    const evalFlags = { ...f, limit: undefined };
    const [a, b] = [await accuracyOf(input.model, evalFlags), await accuracyOf(model, evalFlags)];
    acc = { before: a.top1, after: b.top1, dataset: b.dataset };
  }
  printTrainReport(io, f, out, report, acc, gateLines(verify), await summary?.(result));
}

/** `mc finetune <in> <out> --dataset D --data-dir DIR --epochs N`. */
export const finetune = defineCommand({
  name: 'finetune',
  summary: SUMMARY.finetune,
  usage: '<in> <out> --dataset mnist|cifar10|npy --data-dir DIR [--epochs N] [--lr x] [--masks zeros] [--eval]',
  flags: { ...TRAIN_FLAGS, ...VERIFY_FLAGS },
  examples: [
    'mc finetune small.onnx tuned.onnx --dataset mnist --data-dir data/mnist --epochs 1 --eval',
    'mc finetune pruned.onnx tuned.onnx --dataset cifar10 --data-dir data/cifar10 --masks zeros --augment-crop 4 --augment-flip',
  ],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(finetune, positionals, ['in', 'out']);
    const { model } = await loadModel(input!);
    assertFiniteWeights(model, input);
    await runTraining(f, io, { model, file: input!, technique: 'finetune' }, output!, (data, opts) => finetuneModel(model, data, opts));
  },
});

/** Re-exported for distill.ts. @internal */
export { distillModels, type DistillOptions };
