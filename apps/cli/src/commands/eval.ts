import { McError } from '@mc/ir';
import { EVALUATE_DEFAULTS, evaluateModel, type ModelEvaluation } from '@mc/pipeline';
import { DATA_FLAGS, type DataFlagValues, loadDataFlags } from '../data-flags.js';
import { defined, defineCommand, type FlagTable, needPositionals } from '../flags.js';
import { loadModel } from '../formats.js';
import type { Model } from '@mc/ir';

const flags = {
  ...DATA_FLAGS,
  split: { type: 'string', choices: ['test', 'train'], description: 'which split to score', default: 'test' },
  'batch-size': { type: 'number', arg: 'n', description: 'samples per onnxruntime run', default: EVALUATE_DEFAULTS.batchSize },
  json: { type: 'boolean', description: 'print the result as JSON' },
} as const satisfies FlagTable;

/**
 * Top-1 accuracy of `model` through onnxruntime-node on the dataset the flags name. Shared by eval, finetune and
 * distill (their --eval).
 */
export async function accuracyOf(model: Model, f: DataFlagValues & { 'batch-size'?: number | undefined }, split: 'train' | 'test' = 'test'): Promise<ModelEvaluation> {
  const ds = await loadDataFlags(f, split);
  if (ds === undefined) throw new McError('E_OPTION', 'accuracy needs --dataset mnist|cifar10|npy and --data-dir <folder>');
  return evaluateModel(model, ds, defined({ batchSize: f['batch-size'], scale: f.scale }));
}

/** `mc eval <model> --dataset D --data-dir DIR`: top-1 accuracy through onnxruntime-node. */
export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'Measure top-1 accuracy of a classifier on MNIST, CIFAR-10 or .npy data, running it in onnxruntime-node.',
  usage: '<model> --dataset mnist|cifar10|npy --data-dir DIR [--limit N] [--json]',
  flags,
  examples: ['mc eval mnist_cnn.onnx --dataset mnist --data-dir data/mnist', 'mc eval small.onnx --dataset cifar10 --data-dir data/cifar10 --limit 500 --json'],
  async run({ flags: f, positionals, io }) {
    const [file] = needPositionals(evalCommand, positionals, ['model']);
    const { model } = await loadModel(file!);
    const r = await accuracyOf(model, f, f.split);
    if (f.json === true) io.out(JSON.stringify({ model: file, ...r }));
    else io.out(`${file}: top-1 ${(r.top1 * 100).toFixed(2)}% (${r.correct}/${r.total}) on ${r.dataset} in ${r.seconds.toFixed(1)} s`);
  },
});
