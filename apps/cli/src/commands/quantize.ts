import { DATASET_KINDS } from '@mc/datasets';
import { calibrationFeeds, FEED_DEFAULTS } from '@mc/pipeline';
import type { Model } from '@mc/ir';
import {
  BNB4_QUANT_TYPES,
  CALIBRATION_METHODS,
  type CalibrationMethod,
  EMBEDDINGS_FORMS,
  type Feeds,
  INT4_BLOCK_SIZES,
  INT4_METHODS,
  type Int4Method,
  QUANTIZE_DEFAULTS,
  QUANTIZE_MODES,
  type QuantizeOptions,
  type QuantizeReport,
  quantize,
} from '@mc/quantize';
import { storePruned, unstorePruned } from '@mc/prune';
import { assertFiniteWeights, type RunModelOptions } from '@mc/verify';
import { BYTE_SCALE } from '../data-flags.js';
import { UsageError } from '../exit-codes.js';
import { defined, defineCommand, type FlagValues, type MergeOptions, needPositionals, type OptionFlags } from '../flags.js';
import { loadModel, outputFormat, saveModel } from '../formats.js';
import { refuseUnshrinkableKeras } from '../keras-quantized.js';
import { beforeAfterTable, figuresOf } from '../summary.js';
import { gateLines, printResultJson, VERIFY_FLAGS, verifyBeforeWrite, warnNothingChanged } from '../verify-gate.js';
import { formatBytes, formatTable } from '../table.js';
import { SUMMARY } from './summaries.js';

const D = QUANTIZE_DEFAULTS;

/** The flag table is typed against QuantizeOptions (every mode's fields, kebab-cased), plus the calibration data flags. */
const flags = {
  mode: { type: 'string', choices: QUANTIZE_MODES, description: 'what to quantize to' },
  bits: { type: 'number', arg: 'B', description: 'kmeans: index bits 1..8 (2^B centroids)', default: D.kmeans.bits },
  'block-size': {
    type: 'number',
    arg: 'N',
    choices: INT4_BLOCK_SIZES,
    description: `int4/q4f16: block size along K (default ${D.int4.blockSize}); bnb4: block size along the flattened transposed weight (default ${D.bnb4.blockSize})`,
  },
  'quant-type': {
    type: 'string',
    choices: BNB4_QUANT_TYPES,
    description: 'bnb4: 4-bit code table, nf4 (NormalFloat4) or fp4',
    default: D.bnb4.quantType,
  },
  'per-channel': {
    type: 'boolean',
    description: `int8-weights/int8-static: per output channel (default ${D['int8-weights'].perChannel ? 'on' : 'off'} for them); int8-dynamic: per column of MatMul weights`,
  },
  symmetric: {
    type: 'string',
    choices: ['true', 'false'],
    description: `int8-weights/int4/q4f16: symmetric weights (default ${String(D.int4.symmetric)})`,
  },
  method: {
    type: 'string',
    choices: [...CALIBRATION_METHODS, ...INT4_METHODS],
    description: `int8-static: activation range calibration (${CALIBRATION_METHODS.join(', ')}; default ${D['int8-static'].method}). int4/q4f16: ${D.int4.method} (default), hqq (data-free block refinement), gptq or awq (data-aware: need --dataset npy with one .npy per model input, e.g. input_ids.npy)`,
  },
  percentile: { type: 'number', description: 'int8-static percentile kept', default: D['int8-static'].percentile },
  'reduce-range': { type: 'boolean', description: 'int8-static/int8-dynamic: 7-bit weights' },
  'activation-type': {
    type: 'string',
    choices: ['int8', 'uint8'],
    description: 'int8-static activations (S8S8 or U8S8)',
    default: D['int8-static'].activationType,
  },
  format: {
    type: 'string',
    choices: ['matmulnbits', 'dequantize', 'qdq', 'qoperator'],
    description: `int4: com.microsoft.MatMulNBits (matmulnbits) or DequantizeLinear int4 (dequantize, opset 21), default ${D.int4.format}; int8-static: qdq or qoperator (QLinearConv/QLinearMatMul, onnxruntime only), default ${D['int8-static'].format}`,
  },
  target: { type: 'string', choices: ['ort-cpu', 'ort-web'], description: 'runtime the op forms are chosen for', default: D.target },
  exclude: { type: 'strings', arg: 'NAME', description: 'node names or op types to leave in float' },
  seed: { type: 'number', description: 'kmeans: seed of the k-means++ init', default: D.kmeans.seed },
  'keep-io-types': {
    type: 'string',
    choices: ['true', 'false'],
    description: 'fp16: keep float32 inputs/outputs',
    default: `${D.fp16.keepIoTypes}`,
  },
  'max-output-error': {
    type: 'number',
    arg: 'E',
    description:
      'fp16 with --dataset: largest |Δ| fp16 may add to any output on the calibration samples; leading nodes stay float32 until it holds (with --dataset alone, nodes whose activations exceed float16 range stay float32)',
  },
  calibration: null, // --dataset, --data-dir, --calibration-size
  dataset: {
    type: 'string',
    choices: DATASET_KINDS,
    description: 'calibration data (training split; int8-static needs it); verification then scores the test split',
  },
  'data-dir': { type: 'string', arg: 'D', description: 'folder of the dataset files' },
  'calibration-size': {
    type: 'number',
    arg: 'N',
    description: 'calibration samples, taken from the training split',
    default: FEED_DEFAULTS.limit,
  },
  scale: {
    type: 'number',
    description: `multiply the stored pixel values (default ${BYTE_SCALE} for images; pass 1 for raw 0-255 models); without data, verification feeds synthetic inputs in [0, 255·scale]`,
  },
  names: null, // --short-names
  'short-names': {
    type: 'boolean',
    description: 'give every tensor but the graph inputs/outputs a short name and drop node names (smallest file)',
  },
  'keep-metadata': {
    type: 'boolean',
    description:
      'skip the finishing slim pass: keep keras.layer metadata, value_info and long generated names (on by itself for Keras outputs)',
  },
  'block-list': null, // FP16_BLOCK_LIST
  'conv-bits': {
    type: 'number',
    arg: 'B',
    choices: [4, 8],
    description: `int4/q4f16: bits of Conv weights, default ${D.int4.convBits} (8: int8 per output channel; 4: int4 blocks over the kernel, opset 21, lossy on small CNNs)`,
  },
  embeddings: {
    type: 'string',
    choices: EMBEDDINGS_FORMS,
    description: `int4/q4f16: embedding tables (Gather): float, int4/int8 (GatherBlockQuantized) or int8-dq (DequantizeLinear); default ${D.int4.embeddings} for int4, ${D.q4f16.embeddings} for q4f16`,
  },
  bins: null,
  damp: null,
  'min-elements': null,
  runner: null,
  'on-progress': null,
  signal: null,
  json: { type: 'boolean', description: 'print the report as JSON' },
  ...VERIFY_FLAGS,
} as const satisfies OptionFlags<MergeOptions<QuantizeOptions>>;

type Flags = FlagValues<typeof flags>;

function optionsOf(f: Flags, calibration: AsyncIterable<Feeds> | undefined, keepMetadata: boolean): QuantizeOptions {
  const mode = f.mode;
  if (mode === undefined) throw new UsageError(`mc quantize: --mode is required (one of ${QUANTIZE_MODES.join(', ')})`);
  const common = {
    ...defined({ exclude: f.exclude }),
    target: f.target,
    ...(keepMetadata && { keepMetadata }),
    ...(f['short-names'] === true && { names: 'short' as const }),
  };
  const sym = defined({ symmetric: f.symmetric === undefined ? undefined : f.symmetric === 'true' });
  const format = f.format;
  switch (mode) {
    case 'fp16':
      if (f['max-output-error'] !== undefined && calibration === undefined) {
        throw new UsageError(
          'mc quantize --mode fp16 --max-output-error needs sample inputs to measure on: pass --dataset mnist|cifar10|npy --data-dir D',
        );
      }
      return {
        mode,
        ...common,
        keepIoTypes: f['keep-io-types'] === 'true',
        ...defined({ calibration, maxOutputError: f['max-output-error'] }),
      };
    case 'int8-weights':
      return { mode, ...common, ...sym, ...defined({ perChannel: f['per-channel'] }) };
    case 'int8-dynamic':
      return { mode, ...common, ...defined({ perChannel: f['per-channel'], reduceRange: f['reduce-range'] }) };
    case 'int8-static':
      if (calibration === undefined) {
        throw new UsageError('mc quantize --mode int8-static needs calibration data: pass --dataset mnist|cifar10|npy --data-dir D');
      }
      return {
        mode,
        ...common,
        calibration,
        ...defined({ method: f.method === undefined ? undefined : calibrationMethod(f.method) }),
        percentile: f.percentile,
        ...defined({ reduceRange: f['reduce-range'] }),
        activationType: f['activation-type'],
        ...((format === 'qdq' || format === 'qoperator') && { format }),
      };
    case 'int4':
    case 'q4f16': {
      if (mode === 'q4f16' && format !== undefined)
        throw new UsageError(`mc quantize --mode q4f16: int4 weights are MatMulNBits; drop --format ${format}`);
      if (format === 'qdq' || format === 'qoperator')
        throw new UsageError(`mc quantize --mode int4: --format is matmulnbits or dequantize, not ${format}`);
      const int4 = {
        ...common,
        ...sym,
        ...defined({
          blockSize: f['block-size'],
          method: f.method === undefined ? undefined : int4Method(f.method),
          calibration,
          convBits: f['conv-bits'],
          embeddings: f.embeddings,
        }),
      };
      return mode === 'q4f16' ? { mode, ...int4 } : { mode, ...int4, ...defined({ format }) };
    }
    case 'bnb4':
      return { mode, ...common, quantType: f['quant-type'], ...defined({ blockSize: f['block-size'] }) };
    case 'kmeans':
      return { mode, ...common, bits: f.bits, seed: f.seed };
    default:
      return { mode, ...common };
  }
}

const isCalibrationMethod = (m: string): m is CalibrationMethod => CALIBRATION_METHODS.some((x) => x === m);
const isInt4Method = (m: string): m is Int4Method => INT4_METHODS.some((x) => x === m);

function calibrationMethod(m: string): CalibrationMethod {
  if (isCalibrationMethod(m)) return m;
  throw new UsageError(`mc quantize --mode int8-static: --method is ${CALIBRATION_METHODS.join(', ')}, not ${m}`);
}

function int4Method(m: string): Int4Method {
  if (isInt4Method(m)) return m;
  throw new UsageError(`mc quantize --mode int4: --method is ${INT4_METHODS.join(', ')}, not ${m}`);
}

/**
 * Calibration feeds from a dataset: a folder with one `.npy` per model input (`input_ids.npy`, …) gives them as they
 * are (token models); otherwise the images are laid out for the model's single input.
 */
async function datasetFeeds(model: Model, f: Flags, split: 'train' | 'test', limit: number): Promise<Feeds[] | undefined> {
  const { dataset, 'data-dir': dir } = f;
  if (dataset === undefined) return undefined;
  if (dir === undefined) throw new UsageError('mc quantize: --dataset needs --data-dir D');
  return calibrationFeeds(model, { dataset, dir, split, limit, batchSize: 32, ...defined({ scale: f.scale }) });
}

function nodeTable(r: QuantizeReport): string {
  const rows = r.nodes.map((n) => [
    n.node,
    n.opType,
    n.action,
    formatBytes(n.bytesBefore),
    formatBytes(n.bytesAfter),
    n.maxAbsError === undefined ? '' : n.maxAbsError.toExponential(2),
  ]);
  return formatTable(['node', 'op', 'done', 'bytes', 'after', 'max |ΔW|'], rows);
}

/** `mc quantize`: one call to @mc/quantize, verified in onnxruntime-node before the file is written. */
export const quantizeCommand = defineCommand({
  name: 'quantize',
  summary: SUMMARY.quantize,
  usage: '--mode MODE [options] <in> <out>',
  flags,
  examples: [
    'mc quantize --mode fp16 model.onnx model.fp16.onnx',
    'mc quantize --mode int8-static --method entropy --dataset mnist --data-dir data/mnist --scale 1 mnist.onnx mnist.int8.onnx',
    'mc quantize --mode int4 --block-size 64 llm.onnx llm.int4.onnx',
    'mc quantize --mode bnb4 gpt.onnx gpt.bnb4.onnx   (NF4 codes, block 64: com.microsoft.MatMulBnb4, as transformers.js model_bnb4.onnx)',
    'mc quantize --mode q4f16 --method hqq gpt.onnx gpt.q4f16.onnx   (int4 MatMulNBits, int8 embeddings, float16 elsewhere)',
    'mc quantize --mode int4 --method gptq --dataset npy --data-dir calib gpt.onnx gpt.int4.onnx   (calib/input_ids.npy: int64 [N, T])',
  ],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(quantizeCommand, positionals, ['in', 'out']);
    const format = outputFormat(output!);
    if (f.mode !== undefined) refuseUnshrinkableKeras(format, f.mode, f['per-channel'], output!);
    const loaded = await loadModel(input!);
    assertFiniteWeights(loaded.model, input);
    const calib = await datasetFeeds(loaded.model, f, 'train', f['calibration-size']);
    // A Keras output is written back from the per-layer keras.layer metadata, so the slim pass keeps it there.
    const keepMetadata = f['keep-metadata'] === true || format !== 'onnx';
    const base = optionsOf(
      f,
      calib === undefined
        ? undefined
        : (async function* () {
            yield* calib;
          })(),
      keepMetadata,
    );
    // TF.js keeps uint8 codes with one scale per tensor (refuseUnshrinkableKeras allowed nothing else for model.json).
    const opts = format === 'tfjs' && base.mode === 'int8-weights' ? { ...base, perChannel: false } : base;
    // A pruned file's sparse/packed weights come back as dense weights with masks, so every layer is seen; the masks
    // that survive quantization are stored again at write.
    const quantized = await quantize(unstorePruned(loaded.model).model, opts);
    const report = quantized.report;
    const model = storePruned(quantized.model).model;
    // Verified before anything is written: on the test split with --dataset, else synthetic inputs.
    const session: RunModelOptions = { sessionOptions: { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } } };
    const verify = await verifyBeforeWrite(f, io, {
      reference: loaded.model,
      candidate: model,
      technique: opts.mode,
      output: output!,
      candidateSession: session,
    });
    const unchanged = warnNothingChanged(io, report);
    await saveModel(model, output!, input);
    if (f.json === true) {
      printResultJson(io, { input: input!, output: output!, report, verify, unchanged });
      return;
    }
    const lines = [nodeTable(report)];
    for (const p of report.passedThrough) lines.push(`passed through: ${p.opType} '${p.node}': ${p.reason}`);
    for (const w of report.warnings) lines.push(`warning: ${w.message}`);
    if (report.calibration) lines.push(`calibration: ${report.calibration.method}, ${report.calibration.batches} batches`);
    lines.push('', beforeAfterTable(await figuresOf(loaded.model, input!), await figuresOf(model, output!)));
    lines.push(...gateLines(verify));
    io.out(lines.join('\n'));
  },
});
