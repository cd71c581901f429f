import { McError } from '@mc/ir';
import { EVALUATE_DEFAULTS, evaluateModel, type ModelEvaluation } from '@mc/pipeline';
import { DATA_FLAGS, type DataFlagValues, loadDataFlags } from '../data-flags.js';
import { defined, defineCommand, type FlagTable, needPositionals } from '../flags.js';
import { loadModel } from '../formats.js';
import type { Model } from '@mc/ir';
import { languageModelPerplexity } from './eval-lm.js';
import { SUMMARY } from './summaries.js';

const flags = {
  task: {
    type: 'string',
    choices: ['classify', 'lm'],
    description:
      'classify: top-1 accuracy (default); lm: perplexity of a causal language model on --data-dir D/input_ids.npy, int64 [N, T+1] token windows (the model reads positions 0..T-1 of each window and is scored on predicting 1..T)',
    default: 'classify',
  },
  ...DATA_FLAGS,
  split: { type: 'string', choices: ['test', 'train'], description: 'which split to score', default: 'test' },
  'batch-size': {
    type: 'number',
    arg: 'n',
    description: `samples per onnxruntime run (default ${EVALUATE_DEFAULTS.batchSize}; --task lm: token windows per run, perplexity's own default)`,
  },
  json: { type: 'boolean', description: 'print the result as JSON' },
} as const satisfies FlagTable;

/**
 * Top-1 accuracy of `model` through onnxruntime-node on the dataset the flags name. Shared by eval, finetune and
 * distill (their --eval).
 */
export async function accuracyOf(
  model: Model,
  f: DataFlagValues & { 'batch-size'?: number | undefined },
  split: 'train' | 'test' = 'test',
): Promise<ModelEvaluation> {
  const ds = await loadDataFlags(f, split);
  if (ds === undefined) throw new McError('E_OPTION', 'accuracy needs --dataset mnist|cifar10|npy and --data-dir <folder>');
  return evaluateModel(model, ds, defined({ batchSize: f['batch-size'], scale: f.scale }));
}

/** `mc eval <model> --dataset D --data-dir DIR`: top-1 accuracy through onnxruntime-node. */
export const evalCommand = defineCommand({
  name: 'eval',
  summary: SUMMARY.eval,
  usage:
    '<model> --dataset mnist|cifar10|npy --data-dir DIR [--limit N] [--json]  |  <model> --task lm --data-dir DIR [--limit N] [--json]',
  flags,
  examples: [
    'mc eval mnist_cnn.onnx --dataset mnist --data-dir data/mnist',
    'mc eval small.onnx --dataset cifar10 --data-dir data/cifar10 --limit 500 --json',
    'mc eval gpt.q4f16.onnx --task lm --data-dir valid   (valid/input_ids.npy: int64 [N, T+1])',
  ],
  async run({ flags: f, positionals, io }) {
    const [file] = needPositionals(evalCommand, positionals, ['model']);
    const { model } = await loadModel(file!);
    if (f.task === 'lm') {
      const r = await languageModelPerplexity(model, f);
      if (f.json === true) io.out(JSON.stringify({ model: file, task: 'lm', ...r }));
      else
        io.out(
          `${file}: perplexity ${r.perplexity.toFixed(4)} (${r.nll.toFixed(4)} nats per token) over ${r.tokens} tokens in ${r.windows} windows from ${r.data} in ${r.seconds.toFixed(1)} s`,
        );
      return;
    }
    const r = await accuracyOf(model, f, f.split);
    if (f.json === true) io.out(JSON.stringify({ model: file, ...r }));
    else io.out(`${file}: top-1 ${(r.top1 * 100).toFixed(2)}% (${r.correct}/${r.total}) on ${r.dataset} in ${r.seconds.toFixed(1)} s`);
  },
});
