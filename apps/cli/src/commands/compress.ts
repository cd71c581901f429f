import { McError, type Model } from '@mc/ir';
import { calibrationFeeds, compressFlow, FEED_DEFAULTS } from '@mc/pipeline';
import { FACTORIZE_DEFAULTS, type FactorizeOptions, type FactorizeReport, type Feeds, factorizePolicy } from '@mc/lowrank';
import { assertFiniteWeights } from '@mc/verify';
import type { Dataset } from '@mc/datasets';
import { DATA_FLAGS, loadDataFlags } from '../data-flags.js';
import { UsageError } from '../exit-codes.js';
import { defined, defineCommand, type FlagValues, type MergeOptions, needPositionals, type OptionFlags } from '../flags.js';
import { loadModel, saveModel } from '../formats.js';
import { writeHtmlReport } from '../html-report.js';
import { beforeAfterTable, figuresOf } from '../summary.js';
import { gateLines, printResultJson, VERIFY_FLAGS, verifyBeforeWrite, warnNothingChanged } from '../verify-gate.js';
import { formatNumber, formatTable } from '../table.js';
import { SUMMARY } from './summaries.js';

/** The flag table is typed against FactorizeOptions (one field per policy and common option; null = not a flag). */
const flags = {
  error: {
    type: 'number',
    arg: 'E',
    description: `per-layer bound on mean|W-Ŵ|/mean|W| (keras_compressor semantics); the cheapest ranks meeting it (default ${FACTORIZE_DEFAULTS.error})`,
  },
  rank: { type: 'number', arg: 'K', description: 'fixed rank for dense layers, per channel mode for convs' },
  ratio: {
    type: 'number',
    arg: 'R',
    description: 'keep this fraction of all parameters, ranks allocated across layers to minimise the summed error',
  },
  energy: { type: 'number', arg: 'E', description: "keep this fraction of each spectrum's energy (Σσ²)" },
  seed: { type: 'number', description: 'seed of randomized SVD sketches', default: FACTORIZE_DEFAULTS.seed },
  'only-if-smaller': null,
  calibration: null, // built from --dataset/--data-dir
  'on-progress': null,
  signal: null,
  ...DATA_FLAGS,
  'data-aware': {
    type: 'boolean',
    description:
      "with --dataset: choose dense layers' ranks by the error of the layer output on training samples instead of the weight error (--error then bounds the output error); without it --dataset only feeds the check and --finetune",
  },
  'calibration-size': {
    type: 'number',
    arg: 'N',
    description: 'with --data-aware: training samples the output error is measured on',
    default: FEED_DEFAULTS.limit,
  },
  finetune: {
    type: 'boolean',
    valueFlag: 'epochs',
    description:
      'with --dataset: recover accuracy by distillation from the original model (no labels needed; tfjs-wasm, @mc/distill); --epochs sets the passes, --limit caps the samples',
  },
  epochs: {
    type: 'number',
    arg: 'N',
    description: "with --finetune: passes over the training data (default: @mc/distill's, as for mc finetune)",
  },
  json: { type: 'boolean', description: 'print the report as JSON' },
  report: {
    type: 'string',
    arg: 'file.html',
    description: 'also write a self-contained HTML report (per-layer table and plot of the parameters kept)',
  },
  ...VERIFY_FLAGS,
} as const satisfies OptionFlags<MergeOptions<FactorizeOptions>>;

type Flags = FlagValues<typeof flags>;

/** Calibration feeds from the data flags, laid out for the model's single input. */
async function dataAwareFeeds(model: Model, f: Flags): Promise<Feeds[] | undefined> {
  // --dataset alone never changes what --error means: data-aware ranks are asked for by name.
  if (f['data-aware'] !== true) return undefined;
  if (f.dataset === undefined)
    throw new UsageError('mc compress --data-aware needs training data: pass --dataset mnist|cifar10|npy --data-dir D');
  if (f['data-dir'] === undefined)
    throw new McError('E_OPTION', `--dataset ${f.dataset} needs --data-dir <folder with the ${f.dataset} files>`);
  return calibrationFeeds(model, { dataset: f.dataset, dir: f['data-dir'], limit: f['calibration-size'], ...defined({ scale: f.scale }) });
}

function layerTable(r: FactorizeReport): string {
  const rows = r.nodes.map((n) => [
    n.node,
    n.opType,
    `[${n.oldShape.join('x')}]`,
    n.replaced ? n.newShapes.map((s) => `[${s.join('x')}]`).join(' ') : 'kept',
    n.ranks.join(','),
    n.replaced ? n.weightError.toFixed(4) : '',
    n.outputError === undefined ? '' : n.outputError.toFixed(4),
    formatNumber(n.paramsBefore),
    formatNumber(n.paramsAfter),
    n.decomposition,
  ]);
  return formatTable(['layer', 'op', 'weight', 'factors', 'ranks', 'W error', 'Y error', 'params', 'after', 'svd'], rows);
}

/** `mc compress`: low-rank factorisation (SVD for dense layers, Tucker-2 for convs) with automatic ranks. */
export const compress = defineCommand({
  name: 'compress',
  summary: SUMMARY.compress,
  usage: '[--error E | --rank K | --ratio R | --energy E] [--dataset D --data-dir DIR [--data-aware] [--finetune [--epochs N]]] <in> <out>',
  flags,
  examples: [
    'mc compress --error 0.3 model.onnx small.onnx',
    'mc compress --ratio 0.25 model.h5 small.onnx',
    'mc compress --error 0.3 --dataset mnist --data-dir examples/data/mnist-1k examples/models/mnist-mlp.onnx small.onnx',
    'mc compress --error 0.1 --data-aware --dataset mnist --data-dir data/mnist --scale 1 mnist.onnx small.onnx',
    'mc compress --error 0.7 --finetune --epochs 1 --dataset mnist --data-dir data/mnist --limit 10000 mnist_cnn.onnx small.onnx',
  ],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(compress, positionals, ['in', 'out']);
    if (f.finetune !== true && f.epochs !== undefined)
      throw new UsageError(
        `mc compress: --epochs ${f.epochs} needs --finetune; e.g. --finetune --epochs ${f.epochs} --dataset mnist --data-dir D`,
      );
    if (f.epochs !== undefined && !(Number.isInteger(f.epochs) && f.epochs >= 1))
      throw new UsageError(`mc compress: --epochs needs a whole number ≥ 1, got ${f.epochs}`);
    const opts = { ...factorizePolicy({ error: f.error, rank: f.rank, ratio: f.ratio, energy: f.energy }), seed: f.seed };
    const loaded = await loadModel(input!);
    assertFiniteWeights(loaded.model, input);
    const calibration = await dataAwareFeeds(loaded.model, f);
    const showProgress = io.isTTY && !io.quiet && f.json !== true;
    let finetune: { epochs?: number; data: Dataset; scale?: number } | undefined;
    if (f.finetune === true) {
      const train = await loadDataFlags(f, 'train');
      if (train === undefined)
        throw new UsageError('mc compress --finetune needs training data: pass --dataset mnist|cifar10|npy --data-dir D');
      finetune = { data: train, ...defined({ epochs: f.epochs, scale: f.scale }) };
    }
    // A pruned file's sparse/packed weights come back as dense weights with masks, so every layer is seen; distillation
    // from the original model (its soft outputs are the targets, so no labels are read) follows with --finetune.
    const flow = await compressFlow(
      loaded.model,
      {
        ...opts,
        ...(calibration !== undefined && { calibration }),
        ...(showProgress && { onProgress: (e) => io.err(`${e.phase} ${e.index + 1}/${e.total} ${e.layer}`) }),
      },
      { ...(finetune !== undefined && { finetune }) },
    );
    const [final, report, tuned] = [flow.model, flow.report, flow.finetune];
    // Checked before anything is written: on the test split with --dataset, else synthetic inputs.
    const verify = await verifyBeforeWrite(f, io, { reference: loaded.model, candidate: final, technique: 'lowrank', output: output! });
    const unchanged = tuned === undefined ? warnNothingChanged(io, report) : undefined;
    await saveModel(flow.stored, output!, input);
    if (f.json === true) {
      printResultJson(io, { input: input!, output: output!, report, verify, unchanged, ...(tuned && { extra: { finetune: tuned } }) });
      return;
    }
    const lines = [layerTable(report)];
    for (const p of report.passedThrough) lines.push(`passed through: ${p.opType} '${p.node}': ${p.reason}`);
    for (const w of report.warnings.filter((x) => x.code !== 'W_PASSTHROUGH' || x.node === undefined)) lines.push(`warning: ${w.message}`);
    if (tuned) lines.push(`fine-tuned ${tuned.epochs} epoch(s) in ${tuned.seconds.toFixed(1)} s`);
    const [figBefore, figAfter] = [await figuresOf(loaded.model, input!), await figuresOf(final, output!)];
    lines.push('', beforeAfterTable(figBefore, figAfter));
    if (f.report !== undefined) {
      await writeHtmlReport(f.report, {
        title: `mc compress ${input}`,
        summary: (['params', 'bytes', 'gzipBytes', 'macs'] as const).map((k) => [k, String(figBefore[k]), String(figAfter[k])]),
        layerMetric: 'parameters kept (%)',
        layers: report.nodes.map((n) => ({
          name: n.node,
          value: (100 * n.paramsAfter) / Math.max(1, n.paramsBefore),
          detail: n.replaced ? `ranks ${n.ranks.join(',')}, error ${n.weightError.toFixed(4)}` : 'kept',
        })),
      });
      lines.push(`wrote ${String(f.report)}`);
    }
    lines.push(...gateLines(verify));
    io.out(lines.join('\n'));
  },
});
