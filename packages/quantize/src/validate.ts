import { McError } from '@mc/ir';
import {
  BNB4_QUANT_TYPES,
  type Bnb4Options,
  CALIBRATION_METHODS,
  EMBEDDINGS_FORMS,
  INT4_BLOCK_SIZES,
  INT4_METHODS,
  QUANTIZE_DEFAULTS,
  QUANTIZE_MODES,
  type Fp16Options,
  type Int4Options,
  type Int8StaticOptions,
  type KMeansOptions,
  type Q4f16Options,
  type QuantizeMode,
  type QuantizeOptions,
} from './options.js';

function fail(message: string): never {
  throw new McError('E_OPTION', message);
}

/**
 * Checks the options every mode shares, before any work starts; throws McError('E_OPTION') with the fix. The mode's own
 * checks are its `validate` in the mode table.
 * @internal
 */
export function validateOptions(opts: QuantizeOptions): void {
  if (typeof opts !== 'object' || opts === null || ![...QUANTIZE_MODES, 'bf16'].includes((opts as { mode: QuantizeMode }).mode)) {
    fail(`quantize: mode must be one of ${QUANTIZE_MODES.join(', ')}, got ${JSON.stringify((opts as { mode?: unknown } | null)?.mode)}`);
  }
  if (opts.names !== undefined && opts.names !== 'keep' && opts.names !== 'short')
    fail(`quantize: names must be 'keep' or 'short', got '${String(opts.names)}'`);
  if (opts.target !== undefined && opts.target !== 'ort-cpu' && opts.target !== 'ort-web') {
    fail(`quantize: target must be 'ort-cpu' or 'ort-web', got '${String(opts.target)}'`);
  }
}

/** fp16: maxOutputError is a positive number measured on calibration batches. @internal */
export function validateFp16(opts: Fp16Options): void {
  const e = opts.maxOutputError;
  if (e !== undefined && !(typeof e === 'number' && e > 0)) fail(`quantize fp16: maxOutputError must be a number > 0, got ${String(e)}`);
  if (e !== undefined && opts.calibration === undefined)
    fail('quantize fp16: maxOutputError needs calibration batches to measure the outputs on; pass calibration or drop maxOutputError');
}

/** kmeans: bits in 1..8. @internal */
export function validateKMeans(opts: KMeansOptions): void {
  const b = opts.bits ?? QUANTIZE_DEFAULTS.kmeans.bits;
  if (!Number.isInteger(b) || b < 1 || b > 8) fail(`quantize kmeans: bits must be an integer in 1..8, got ${b}; pass e.g. bits: 4`);
}

/** int4 and q4f16: block size, format, embeddings, method (and its calibration), convBits, damp. @internal */
/** bnb4: block size among MatMulBnb4's kernels, quant type nf4/fp4. @internal */
export function validateBnb4(opts: Bnb4Options): void {
  const bs = opts.blockSize ?? QUANTIZE_DEFAULTS.bnb4.blockSize;
  if (!INT4_BLOCK_SIZES.includes(bs)) fail(`quantize bnb4: blockSize must be 16, 32, 64, 128 or 256 (MatMulBnb4's kernels), got ${bs}`);
  const qt = opts.quantType ?? QUANTIZE_DEFAULTS.bnb4.quantType;
  if (!BNB4_QUANT_TYPES.includes(qt)) fail(`quantize bnb4: quantType must be 'nf4' or 'fp4', got '${String(qt)}'`);
}

export function validateInt4(opts: Int4Options | Q4f16Options): void {
  const mode = opts.mode;
  const bs = opts.blockSize ?? QUANTIZE_DEFAULTS.int4.blockSize;
  if (!INT4_BLOCK_SIZES.includes(bs)) fail(`quantize ${mode}: blockSize must be 16, 32, 64, 128 or 256, got ${bs}`);
  const format = (opts as { format?: unknown }).format;
  if (mode === 'q4f16' && format !== undefined)
    fail(
      `quantize q4f16: the int4 weights are MatMulNBits (float16 inputs need it); drop format, or use mode int4 with format '${String(format)}'`,
    );
  if (format !== undefined && format !== 'matmulnbits' && format !== 'dequantize') {
    fail(`quantize int4: format must be 'matmulnbits' or 'dequantize', got '${String(format)}'`);
  }
  if (opts.embeddings !== undefined && !(EMBEDDINGS_FORMS as readonly string[]).includes(opts.embeddings)) {
    fail(`quantize ${mode}: embeddings must be one of ${EMBEDDINGS_FORMS.join(', ')}, got '${String(opts.embeddings)}'`);
  }
  const method = opts.method ?? QUANTIZE_DEFAULTS.int4.method;
  if (!(INT4_METHODS as readonly string[]).includes(method))
    fail(`quantize ${mode}: method must be one of ${INT4_METHODS.join(', ')}, got '${String(method)}'`);
  if ((method === 'gptq' || method === 'awq') && opts.calibration === undefined) {
    fail(
      `quantize ${mode}: method '${method}' needs calibration data (options.calibration; CLI --dataset npy --data-dir D holding the model's inputs, e.g. input_ids.npy); 'rtn' and 'hqq' need none`,
    );
  }
  const cb = opts.convBits ?? QUANTIZE_DEFAULTS.int4.convBits;
  if (cb !== 4 && cb !== 8) fail(`quantize ${mode}: convBits must be 4 or 8, got ${String(cb)}`);
  if (method === 'awq' && format === 'dequantize')
    fail("quantize int4: method 'awq' scales the layer's input with a Mul next to MatMulNBits; use format 'matmulnbits' or method 'gptq'");
  const damp = opts.damp ?? QUANTIZE_DEFAULTS.int4.damp;
  if (!(damp > 0 && damp < 1)) fail(`quantize ${mode}: damp must be in (0, 1), got ${damp}; the usual value is 0.01`);
}

/** int8-static: calibration batches, method, percentile, format, activation type. @internal */
export function validateInt8Static(opts: Int8StaticOptions): void {
  const c = opts.calibration as unknown;
  if (
    c === undefined ||
    c === null ||
    (typeof c !== 'object' && typeof c !== 'function') ||
    !(Symbol.asyncIterator in (c as object) || Symbol.iterator in (c as object))
  ) {
    fail(
      'quantize int8-static: calibration data is required (an AsyncIterable or Iterable of input feeds); pass calibration: batches, or use mode int8-dynamic, which needs none',
    );
  }
  const m = opts.method ?? QUANTIZE_DEFAULTS['int8-static'].method;
  if (!CALIBRATION_METHODS.includes(m)) fail(`quantize int8-static: method must be minmax, percentile or entropy, got '${m}'`);
  const p = opts.percentile ?? QUANTIZE_DEFAULTS['int8-static'].percentile;
  if (!(p > 50 && p <= 100)) fail(`quantize int8-static: percentile must be in (50, 100], got ${p}`);
  if (opts.format !== undefined && opts.format !== 'qdq' && opts.format !== 'qoperator') {
    fail(`quantize int8-static: format must be 'qdq' or 'qoperator', got '${String(opts.format)}'`);
  }
  if (opts.activationType !== undefined && opts.activationType !== 'int8' && opts.activationType !== 'uint8') {
    fail(`quantize int8-static: activationType must be 'int8' or 'uint8'`);
  }
}
