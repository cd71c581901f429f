import { TRAIN_DEFAULTS } from '@mc/distill';
import { calibrationFeeds, PRUNE_RECOVERY_DEFAULTS, pruneFinetuneFlow, pruneFlow } from '@mc/pipeline';
import { PRUNE_DEFAULTS, type PruneOptions, type PruneReport, RECONSTRUCT_DEFAULTS } from '@mc/prune';
import { assertFiniteWeights } from '@mc/verify';
import type { Model } from '@mc/ir';
import { UsageError } from '../exit-codes.js';
import { type CliIO, defined, defineCommand, type FlagValues, type MergeOptions, needPositionals, type OptionFlags } from '../flags.js';
import { loadModel, saveModel } from '../formats.js';
import { beforeAfterTable, figuresOf } from '../summary.js';
import { gateLines, printResultJson, VERIFY_FLAGS, verifyBeforeWrite, warnNothingChanged } from '../verify-gate.js';
import { formatNumber, formatTable } from '../table.js';
import { runTraining, TRAIN_FLAGS } from './finetune.js';
import { SUMMARY } from './summaries.js';

const P = PRUNE_DEFAULTS;
const R = PRUNE_RECOVERY_DEFAULTS;
const T = TRAIN_DEFAULTS;

/** The flag table is typed against both prune modes (every option is a flag or an explicit null), plus training. */
const flags = {
  sparsity: {
    type: 'number',
    arg: 'S',
    description: 'unstructured: fraction of weights set to zero, in [0, 1) (smallest magnitudes first)',
  },
  scope: null, // --global
  mode: null, // --sparsity/--nm or --channels
  nm: {
    type: 'string',
    arg: 'N:M',
    description: 'unstructured N:M: keep the N largest of every M weights along the input channels (e.g. 2:4)',
  },
  storage: {
    type: 'string',
    choices: ['auto', 'sparse', 'packed', 'dense'],
    description: 'how pruned weights are stored: sparse_initializer, packed (dense at load), dense, or the smallest (auto)',
    default: P.storage,
  },
  codebook: {
    type: 'number',
    arg: 'bits',
    description: 'unstructured, packed storage: share surviving values through a k-means codebook of 2^bits entries (lossy; e.g. 4)',
  },
  ratio: null, // --channels
  heads: {
    type: 'number',
    arg: 'R',
    description: 'structured: fraction of attention heads removed from every head group, in [0, 1) (default: --channels)',
  },
  importance: {
    type: 'string',
    choices: ['l1', 'l2', 'bn'],
    description: 'structured: channel importance (filter L1/L2 norm, BatchNormalization |γ|)',
    default: P.importance,
  },
  exclude: { type: 'strings', arg: 'node', description: 'node names never pruned' },
  channels: { type: 'number', arg: 'R', description: 'structured: fraction of channels removed from every dependency group, in [0, 1)' },
  global: { type: 'boolean', description: 'rank weights (or channels) over the whole model instead of per layer (per group)' },
  'sparse-indices': {
    type: 'string',
    choices: ['int64', 'smallest'],
    description: `sparse storage indices: int64 (valid ONNX${P.sparseIndices === 'int64' ? ', the default' : ''}) or smallest (int16/int32: smaller, loads in onnxruntime, but onnx.checker rejects it)`,
    default: P.sparseIndices,
  },
  'min-elements': { type: 'number', arg: 'n', description: 'unstructured: leave weights with fewer elements dense' },
  'fold-batch-norm': null, // --fold-bn
  'fold-bn': { type: 'boolean', description: 'structured: fold BatchNormalization into the Conv/Gemm before it afterwards' },
  'min-channels': { type: 'number', arg: 'n', description: 'structured: keep at least n channels per group', default: P.minChannels },
  calibration: null, // --reconstruct with --dataset, --data-dir, --calibration-size
  reconstruct: {
    type: 'boolean',
    description:
      'structured: refit every layer that read removed channels by least squares so it reproduces the unpruned outputs on --calibration-size training samples of --dataset (no training; runs the model in onnxruntime-node)',
  },
  'calibration-size': { type: 'number', arg: 'N', description: 'samples --reconstruct reads', default: RECONSTRUCT_DEFAULTS.samples },
  finetune: {
    type: 'boolean',
    valueFlag: 'epochs',
    description: `recover accuracy after pruning (needs --dataset and --data-dir): fine-tune on the labels (after --sparsity/--nm with the pruned weights held at zero) with a cosine schedule and the dataset's augmentation (CIFAR-10: --augment-crop 4 --augment-flip; --augment-crop 0 turns it off); data without labels is distilled from the unpruned model (T ${R.temperature})`,
  },
  ...TRAIN_FLAGS, // also the null 'on-progress' and 'signal'
  schedule: { ...TRAIN_FLAGS.schedule, default: R.schedule },
  lr: {
    ...TRAIN_FLAGS.lr,
    description: `learning rate (default ${R.learningRate} after --channels; else ${T.learningRate.adam} for adam, ${T.learningRate.sgd} for sgd)`,
  },
  ...VERIFY_FLAGS,
} as const satisfies OptionFlags<MergeOptions<PruneOptions>>;

function optionsOf(f: FlagValues<typeof flags>): PruneOptions {
  const common = { ...(f.global === true && { scope: 'global' as const }), ...defined({ exclude: f.exclude }) };
  const unstructured = f.sparsity !== undefined || f.nm !== undefined;
  const structured = f.channels !== undefined || f.heads !== undefined;
  if (unstructured && structured)
    throw new UsageError('mc prune: pass --sparsity/--nm (unstructured) or --channels/--heads (structured), not both');
  if (structured) {
    return {
      mode: 'channels',
      ratio: f.channels ?? 0,
      importance: f.importance,
      ...defined({ foldBatchNorm: f['fold-bn'], heads: f.heads }),
      minChannels: f['min-channels'],
      ...common,
    };
  }
  if (!unstructured) throw new UsageError("mc prune: pass --sparsity S, --nm N:M or --channels R; see 'mc prune --help'");
  let nm: [number, number] | undefined;
  if (f.nm !== undefined) {
    const m = /^(\d+):(\d+)$/.exec(f.nm);
    if (m === null) throw new UsageError(`mc prune: --nm must look like 2:4, got '${f.nm}'`);
    nm = [Number(m[1]), Number(m[2])];
  }
  return {
    mode: 'magnitude',
    storage: f.storage,
    sparseIndices: f['sparse-indices'],
    ...defined({ sparsity: f.sparsity, nm, minElements: f['min-elements'], codebook: f.codebook }),
    ...common,
  };
}

/** `--reconstruct`: the first `--calibration-size` training samples of `--dataset` (or the folder's `.npy` per model input) as the refit's calibration. */
async function withCalibration(opts: PruneOptions, f: FlagValues<typeof flags>, model: Model, io: CliIO): Promise<PruneOptions> {
  if (opts.mode !== 'channels')
    throw new UsageError('mc prune: --reconstruct refits layers after --channels/--heads; drop it or prune channels');
  const { dataset, 'data-dir': dir } = f;
  if (dataset === undefined || dir === undefined)
    throw new UsageError('mc prune: --reconstruct needs --dataset mnist|cifar10|npy and --data-dir <folder>');
  const n = f['calibration-size'];
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`mc prune: --calibration-size must be a whole number ≥ 1, got ${n}`);
  const showProgress = io.isTTY && !io.quiet && f.json !== true;
  return {
    ...opts,
    calibration: await calibrationFeeds(model, { dataset, dir, limit: n, ...defined({ scale: f.scale }) }),
    ...(showProgress && { onProgress: (e) => e.phase === 'reconstruct' && io.err(`refit ${e.index + 1}/${e.total} ${e.layer}`) }),
  };
}

function reportLines(r: PruneReport): string[] {
  const lines: string[] = [];
  if (r.mode === 'magnitude') {
    const rows = r.weights.map((w) => [
      w.node,
      w.opType,
      `[${w.dims.join('x')}]`,
      `${(w.sparsity * 100).toFixed(1)}%`,
      w.storage + (w.indexType ? ` (${w.indexType})` : '') + (w.codebook ? ` + ${w.codebook.bits}-bit codebook` : ''),
      formatNumber(w.bytesBefore),
      formatNumber(w.bytesAfter),
    ]);
    lines.push(formatTable(['layer', 'op', 'weight', 'zeros', 'storage', 'bytes', 'after'], rows));
  } else {
    const rows = r.groups.map((g) => [
      g.id,
      g.roots.length > 2 ? `${g.roots.slice(0, 2).join(', ')} +${g.roots.length - 2}` : g.roots.join(', '),
      g.members.length,
      g.channels,
      g.removed,
      g.fixed === g.channels
        ? `left alone: ${g.reasons.join('; ')}`
        : [...(g.headSize === undefined ? [] : [`attention heads of ${g.headSize} channels`]), ...g.reasons].join('; '),
    ]);
    lines.push(formatTable(['group', 'layers', 'members', 'channels', 'removed', 'note'], rows));
  }
  lines.push(`${r.mode === 'magnitude' ? 'weights zeroed' : 'channels removed'}: ${(r.achieved * 100).toFixed(1)}%`);
  if (r.reconstruct !== undefined) {
    const rows = r.reconstruct.layers.map((l) => [l.node, l.opType, formatNumber(l.rows), l.before.toFixed(3), l.after.toFixed(3)]);
    lines.push('', `least-squares refit on ${r.reconstruct.samples} samples (relative output error of each layer):`);
    lines.push(formatTable(['layer', 'op', 'rows', 'before', 'after'], rows));
    for (const s of r.reconstruct.skipped) lines.push(`not refitted: ${s.opType} '${s.node}': ${s.reason}`);
  }
  if (r.nothingToPrune !== undefined) lines.push(r.nothingToPrune);
  for (const w of r.warnings) lines.push(`warning: ${w.message}`);
  return lines;
}

/** `mc prune`: unstructured magnitude pruning with storage that shrinks, or structured channel removal. */
export const pruneCommand = defineCommand({
  name: 'prune',
  summary: SUMMARY.prune,
  usage:
    '(--sparsity S [--global] [--nm N:M] [--storage auto|sparse|packed|dense] | --channels R [--heads R] [--importance l1|l2|bn] [--fold-bn] [--reconstruct --dataset D --data-dir DIR]) [--finetune --dataset D --data-dir DIR --epochs N] <in> <out>',
  flags,
  examples: [
    'mc prune --sparsity 0.92 --global lenet.onnx lenet-sparse.onnx',
    'mc prune --nm 2:4 --storage dense model.onnx model-24.onnx',
    'mc prune --sparsity 0.92 --global --storage packed --codebook 4 lenet.onnx lenet-tiny.onnx',
    'mc prune --sparsity 0.92 --global --codebook 4 --finetune --epochs 5 --schedule cosine --dataset mnist --data-dir data/mnist lenet.onnx lenet-dc.onnx',
    'mc prune --channels 0.5 --importance bn --fold-bn resnet.onnx resnet-thin.onnx',
    'mc prune --channels 0.25 --reconstruct --dataset cifar10 --data-dir data/cifar10 --scale 1 --max-accuracy-drop 20 resnet8.h5 resnet8-thin.h5',
    'mc prune --sparsity 0.9 --finetune --dataset mnist --data-dir data/mnist --epochs 1 --eval lenet.onnx tuned.onnx',
  ],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(pruneCommand, positionals, ['in', 'out']);
    const base = optionsOf(f);
    const loaded = await loadModel(input!);
    assertFiniteWeights(loaded.model, input);
    const opts = f.reconstruct === true ? await withCalibration(base, f, loaded.model, io) : base;
    const technique = opts.mode === 'channels' ? 'prune-channels' : 'prune-magnitude';
    if (f.finetune === true) {
      // Prune (weights stay dense with their masks), fine-tune with the masks held, then store in the requested form.
      await runTraining(
        f,
        io,
        { model: loaded.model, file: input!, technique },
        output!,
        async (data, o) => {
          const t = await pruneFinetuneFlow(loaded.model, opts, data, o);
          warnNothingChanged(io, t.pruned);
          return t;
        },
        async (t) => {
          const [before, after] = [await figuresOf(loaded.model, input!), await figuresOf(t.model, output!)];
          return { lines: [...reportLines(t.pruned), '', beforeAfterTable(before, after)], json: { prune: t.pruned, before, after } };
        },
      );
      return;
    }
    const { model, report } = await pruneFlow(loaded.model, opts);
    const verify = await verifyBeforeWrite(f, io, { reference: loaded.model, candidate: model, technique, output: output! });
    const unchanged = warnNothingChanged(io, report);
    await saveModel(model, output!, input);
    if (f.json === true) {
      printResultJson(io, { input: input!, output: output!, report, verify, unchanged });
      return;
    }
    const lines = reportLines(report);
    lines.push('', beforeAfterTable(await figuresOf(loaded.model, input!), await figuresOf(model, output!)));
    lines.push(...gateLines(verify));
    io.out(lines.join('\n'));
  },
});
