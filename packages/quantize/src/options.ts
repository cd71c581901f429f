import type { Feeds } from '@mc/ir';
import type { Model } from '@mc/ir';

/** Input feeds of one calibration batch: graph input name → tensor (the `@mc/ir` type). */
export type { Feeds };

/** Which runtime the output should run fast and correctly on. */
export type QuantizeTarget = 'ort-cpu' | 'ort-web';

/** Calibration methods of int8-static, for CLIs. */
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
/** Calibration method for activation ranges. */
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

/**
 * Runs a model on feeds and returns the named outputs as float32 arrays: the calibration strategy. The built-in runner
 * ({@link ortNodeRunner}) uses onnxruntime-node through `@mc/verify` (an optional peer dependency); pass your own to
 * calibrate in another runtime.
 */
export interface CalibrationRunner {
  /** Prepares a session for `model` (which has the intermediate tensors added as graph outputs). */
  open(
    model: Model,
  ): Promise<{ run(feeds: Feeds, outputs: readonly string[]): Promise<Record<string, Float32Array>>; close(): Promise<void> }>;
}

/** Progress of long work. */
export interface QuantizeProgress {
  readonly phase: 'calibrate' | 'quantize';
  readonly done: number;
  readonly total?: number;
}

/** Options every mode shares. */
export interface CommonOptions {
  /** Node names or op types left in float (listed in the report). */
  readonly exclude?: readonly string[];
  /** Runtime the op forms are chosen for. Default 'ort-cpu'. */
  readonly target?: QuantizeTarget;
  /**
   * Skip the finishing slim pass: keep per-layer source metadata (`keras.layer`, needed to write the model back to
   * Keras), intermediate value_info, Identity nodes, default-valued attributes, duplicate constants and the long
   * generated names. Default false: the output is written as small as it computes the same.
   */
  readonly keepMetadata?: boolean;
  /**
   * Names in the slim output: 'keep' (default) keeps the input model's tensor and node names; 'short' gives every
   * tensor but the graph inputs and outputs a 1–3 character name and drops node names — the smallest file, for small
   * models where names are a visible share of the bytes (mnist-cntk int8-static QOperator: 28.5 % → 26.7 %).
   */
  readonly names?: 'keep' | 'short';
  readonly onProgress?: (e: QuantizeProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * float16 weights and compute.
 * @example
 * await quantize(model, { mode: 'fp16', blockList: [...FP16_BLOCK_LIST, 'Softmax'] });
 */
export interface Fp16Options extends CommonOptions {
  readonly mode: 'fp16';
  /** Keep float32 graph inputs/outputs, with Casts inside (default true). */
  readonly keepIoTypes?: boolean;
  /** Op types kept in float32 (Casts around them); default {@link FP16_BLOCK_LIST}. */
  readonly blockList?: readonly string[];
  /**
   * Optional input batches: the float32 model runs on them once, and every node that computes or reads an activation
   * beyond float16's ±65504 stays in float32. Without it only constants (weights, statistics, bounds) are checked.
   */
  readonly calibration?: AsyncIterable<Feeds> | Iterable<Feeds>;
  /**
   * Largest |Δ| fp16 may add to any float32 graph output on the calibration batches (needs `calibration`). When
   * plain conversion exceeds it, nodes stay float32 from the graph input on (rounding early is amplified by every
   * later layer), as few as a binary search over that prefix finds; the batches are held in memory for it.
   */
  readonly maxOutputError?: number;
  /** Runs the calibration batches (default {@link ortNodeRunner}). */
  readonly runner?: CalibrationRunner;
}

/** bfloat16 (refused where the runtime has no kernels). */
export interface Bf16Options extends CommonOptions {
  readonly mode: 'bf16';
  readonly keepIoTypes?: boolean;
}

/**
 * int8 weight-only: DequantizeLinear on initializers.
 * @example
 * await quantize(model, { mode: 'int8-weights', perChannel: true });
 */
export interface Int8WeightsOptions extends CommonOptions {
  readonly mode: 'int8-weights';
  /** Per output channel (axis from the op facts). Default true. */
  readonly perChannel?: boolean;
  /** Symmetric int8 (zero point 0). Default true. */
  readonly symmetric?: boolean;
}

/**
 * int8 dynamic: DynamicQuantizeLinear + MatMulInteger / ConvInteger.
 * @example
 * await quantize(model, { mode: 'int8-dynamic', target: 'ort-web' });
 */
export interface Int8DynamicOptions extends CommonOptions {
  readonly mode: 'int8-dynamic';
  /** Per-channel weights for MatMul (Conv stays per-tensor: ConvInteger has a scalar zero point). Default false. */
  readonly perChannel?: boolean;
  readonly reduceRange?: boolean;
}

/**
 * int8 static QDQ with calibrated activation ranges.
 * @example
 * await quantize(model, { mode: 'int8-static', calibration: batches, method: 'percentile', percentile: 99.99 });
 */
export interface Int8StaticOptions extends CommonOptions {
  readonly mode: 'int8-static';
  /** Calibration batches; streamed once. */
  readonly calibration: AsyncIterable<Feeds> | Iterable<Feeds>;
  readonly method?: CalibrationMethod;
  /** Percentile kept by 'percentile' (default 99.999). */
  readonly percentile?: number;
  /** Per-channel symmetric weights (default true). */
  readonly perChannel?: boolean;
  /** 7-bit weights and activations (default false). */
  readonly reduceRange?: boolean;
  /** Activation type: 'int8' (S8S8, default) or 'uint8' (U8S8). */
  readonly activationType?: 'int8' | 'uint8';
  /** Histogram bins for percentile/entropy (default 2048). */
  readonly bins?: number;
  /**
   * Graph form: 'qdq' (default; QuantizeLinear/DequantizeLinear around float ops, what onnxruntime recommends and
   * other runtimes read) or 'qoperator' (QLinearConv / QLinearMatMul with int8 MaxPool/Reshape between them: what
   * onnxruntime runs the QDQ graph as, written out; fewer nodes and bytes, for onnxruntime only).
   */
  readonly format?: 'qdq' | 'qoperator';
  readonly runner?: CalibrationRunner;
}

/**
 * int4 block-wise weight-only for MatMul/Gemm.
 * @example
 * await quantize(model, { mode: 'int4', blockSize: 64, symmetric: false, format: 'dequantize' });
 */
export interface Int4Options extends CommonOptions {
  readonly mode: 'int4';
  /** 16, 32, 64, 128 or 256 (default 32). */
  readonly blockSize?: (typeof INT4_BLOCK_SIZES)[number];
  /** Default true. */
  readonly symmetric?: boolean;
  /** 'matmulnbits' (com.microsoft, default) or 'dequantize' (DequantizeLinear int4 block_size, opset 21). */
  readonly format?: 'matmulnbits' | 'dequantize';
  /**
   * How block parameters and codes are chosen (default 'rtn'):
   * - 'rtn': round to nearest with min/max scales;
   * - 'hqq': data-free, per block a clipping search and alternating least-squares refinement of scale and zero point;
   * - 'gptq': data-aware, error compensation through the inverse Hessian of the layer's inputs (needs `calibration`);
   * - 'awq': data-aware, per-channel weight scaling by activation magnitude, folded into a Mul on the input (needs
   *   `calibration`; format 'matmulnbits' only).
   */
  readonly method?: Int4Method;
  /** Calibration batches (feeds by input name) for 'gptq' and 'awq', streamed once. */
  readonly calibration?: AsyncIterable<Feeds> | Iterable<Feeds>;
  /** Runs the calibration; default onnxruntime-node. */
  readonly runner?: CalibrationRunner;
  /** 'gptq': dampening of the Hessian, as a fraction of its mean diagonal (default 0.01). */
  readonly damp?: number;
  /**
   * Bits of Conv/ConvTranspose weights (default 8): 8 stores them int8 per output channel (DequantizeLinear, opset 13);
   * 4 stores them as int4 DequantizeLinear blocks over the flattened kernel (opset 21). Without calibration int4 Conv
   * weights lose too much on small CNNs (PP-OCRv4 rec reads 2/100 rendered lines at block 32, 76/100 at block 16,
   * against 99/100 with int8 Conv weights), so int4 stays opt-in.
   */
  readonly convBits?: 4 | 8;
  /**
   * Embedding tables (`Gather` on a float32 [rows, width] initializer): 'float' keeps them (default for int4);
   * 'int4' and 'int8' make them com.microsoft.GatherBlockQuantized with 4- or 8-bit codes in the blocks of the MatMul
   * weights (only the gathered rows are dequantized; an int4 table that is also the head's weight is stored once);
   * 'int8-dq' makes them DequantizeLinear per row → Gather, standard ONNX for runtimes without the com.microsoft op.
   */
  readonly embeddings?: EmbeddingsForm;
}

/** How int4 and q4f16 store embedding tables, for CLIs. */
export const EMBEDDINGS_FORMS = ['float', 'int4', 'int8', 'int8-dq'] as const;
/** How int4 and q4f16 store embedding tables. */
export type EmbeddingsForm = (typeof EMBEDDINGS_FORMS)[number];

/**
 * int4 weights, float16 everything else (the form transformers.js ships as `model_q4f16.onnx`): the int4 mode in its
 * MatMulNBits form, embeddings 'int8' by default (GatherBlockQuantized; on the bench's byte-level GPT 18.1 % of the
 * float32 file at int4's perplexity, 'int4' 16.7 % with a larger increase), then the fp16 conversion of every float32
 * part that is left (MatMulNBits and GatherBlockQuantized take float16 inputs and scales; graph inputs and outputs
 * stay float32 by default; values beyond float16's range stay float32).
 * @example
 * await quantize(model, { mode: 'q4f16', blockSize: 32, method: 'hqq' });
 */
export interface Q4f16Options extends Omit<Int4Options, 'mode' | 'format'> {
  readonly mode: 'q4f16';
  /** Keep float32 graph inputs/outputs, with Casts inside (default true). */
  readonly keepIoTypes?: boolean;
  /** Op types kept in float32 (default {@link FP16_BLOCK_LIST}). */
  readonly blockList?: readonly string[];
}

/** bnb4 code tables, for CLIs: NormalFloat4 and FP4 (MatMulBnb4 `quant_type` 1 and 0). */
export const BNB4_QUANT_TYPES = ['nf4', 'fp4'] as const;

/**
 * 4-bit bitsandbytes codes (the form transformers.js ships as `model_bnb4.onnx`): MatMul and Gemm weights become
 * com.microsoft.MatMulBnb4, absmax-scaled blocks of NF4 or FP4 codes along the transposed weight; Conv weights and
 * embedding tables (Gather) stay float32, as in onnxruntime's MatMulBnb4 quantizer.
 * @example
 * await quantize(model, { mode: 'bnb4', quantType: 'nf4', blockSize: 64 });
 */
export interface Bnb4Options extends CommonOptions {
  readonly mode: 'bnb4';
  /**
   * 16, 32, 64, 128 or 256 (MatMulBnb4's kernels). Default 64: bitsandbytes' `Linear4bit` uses 64 only, and so do
   * onnxruntime's quantizer script and transformers.js' conversion script (`quantize.py`, bnb4 `block_size or 64`).
   */
  readonly blockSize?: (typeof INT4_BLOCK_SIZES)[number];
  /** 'nf4' (default, as transformers.js' conversion) or 'fp4'. */
  readonly quantType?: (typeof BNB4_QUANT_TYPES)[number];
}

/** Default of {@link Int4Options.convBits}. */
export const INT4_CONV_BITS_DEFAULT = 8;

/** int4 methods, for CLIs. */
export const INT4_METHODS = ['rtn', 'hqq', 'gptq', 'awq'] as const;
/** How int4 picks block parameters and codes. */
export type Int4Method = (typeof INT4_METHODS)[number];

/** int4 block sizes, for CLIs. */
export const INT4_BLOCK_SIZES = [16, 32, 64, 128, 256] as const;

/**
 * k-means weight sharing.
 * @example
 * await quantize(model, { mode: 'kmeans', bits: 4, seed: 0 });
 */
export interface KMeansOptions extends CommonOptions {
  readonly mode: 'kmeans';
  /** Index bits 1..8 (2^bits centroids). Default 4. */
  readonly bits?: number;
  readonly seed?: number;
  /** Smallest weight tensor (elements) that is clustered (default 64). */
  readonly minElements?: number;
}

/**
 * Binary or ternary weights with per-channel scales.
 * @example
 * await quantize(model, { mode: 'ternary', exclude: ['Gemm'] });
 */
export interface SignOptions extends CommonOptions {
  readonly mode: 'binary' | 'ternary';
}

/** Options of {@link quantize}: one of the modes. */
export type QuantizeOptions =
  | Fp16Options
  | Bf16Options
  | Int8WeightsOptions
  | Int8DynamicOptions
  | Int8StaticOptions
  | Int4Options
  | Q4f16Options
  | Bnb4Options
  | KMeansOptions
  | SignOptions;

/** Every mode name. */
export type QuantizeMode = QuantizeOptions['mode'];

/**
 * Mode names that produce a model onnxruntime runs, for CLIs. `bf16` is not among them: onnxruntime 1.30 has no
 * bfloat16 CPU kernels for the common ops, so `quantize({mode: 'bf16'})` refuses with the measured reason.
 */
export const QUANTIZE_MODES: readonly QuantizeMode[] = [
  'fp16',
  'int8-weights',
  'int8-dynamic',
  'int8-static',
  'int4',
  'q4f16',
  'bnb4',
  'kmeans',
  'binary',
  'ternary',
];

/**
 * What {@link quantize} uses for an option left unset, per mode: for CLIs (`--help` shows these) and docs.
 * @example
 * QUANTIZE_DEFAULTS.int4.blockSize; // 32
 */
export const QUANTIZE_DEFAULTS = {
  target: 'ort-cpu',
  fp16: { keepIoTypes: true },
  'int8-weights': { perChannel: true, symmetric: true },
  'int8-dynamic': { perChannel: false, reduceRange: false },
  'int8-static': {
    method: 'minmax',
    percentile: 99.999,
    perChannel: true,
    reduceRange: false,
    activationType: 'int8',
    bins: 2048,
    format: 'qdq',
  },
  int4: {
    blockSize: 32,
    symmetric: true,
    format: 'matmulnbits',
    method: 'rtn',
    damp: 0.01,
    convBits: INT4_CONV_BITS_DEFAULT,
    embeddings: 'float',
  },
  q4f16: { embeddings: 'int8', keepIoTypes: true },
  bnb4: { blockSize: 64, quantType: 'nf4' },
  kmeans: { bits: 4, seed: 0, minElements: 64 },
} as const satisfies {
  target: QuantizeTarget;
  fp16: Pick<Required<Fp16Options>, 'keepIoTypes'>;
  'int8-weights': Pick<Required<Int8WeightsOptions>, 'perChannel' | 'symmetric'>;
  'int8-dynamic': Pick<Required<Int8DynamicOptions>, 'perChannel' | 'reduceRange'>;
  'int8-static': Pick<
    Required<Int8StaticOptions>,
    'method' | 'percentile' | 'perChannel' | 'reduceRange' | 'activationType' | 'bins' | 'format'
  >;
  int4: Pick<Required<Int4Options>, 'blockSize' | 'symmetric' | 'format' | 'method' | 'damp' | 'convBits' | 'embeddings'>;
  q4f16: Pick<Required<Q4f16Options>, 'embeddings' | 'keepIoTypes'>;
  bnb4: Pick<Required<Bnb4Options>, 'blockSize' | 'quantType'>;
  kmeans: Pick<Required<KMeansOptions>, 'bits' | 'seed' | 'minElements'>;
};

/**
 * Op types kept in float32 by `fp16`: onnxruntime's float16 converter block list (ops without float16 kernels or
 * that need float32 range) plus recurrent ops and LRN/InstanceNormalization, which onnxruntime's CPU provider has no
 * float16 kernels for.
 */
export const FP16_BLOCK_LIST: readonly string[] = [
  'ArrayFeatureExtractor',
  'Binarizer',
  'CastMap',
  'CategoryMapper',
  'DictVectorizer',
  'FeatureVectorizer',
  'Imputer',
  'LabelEncoder',
  'LinearClassifier',
  'LinearRegressor',
  'Normalizer',
  'OneHotEncoder',
  'RandomUniformLike',
  'SVMClassifier',
  'SVMRegressor',
  'Scaler',
  'TreeEnsembleClassifier',
  'TreeEnsembleRegressor',
  'ZipMap',
  'NonMaxSuppression',
  'TopK',
  'RoiAlign',
  'Resize',
  'Range',
  'CumSum',
  'Min',
  'Max',
  'Upsample',
  'LSTM',
  'GRU',
  'RNN',
  'LRN',
  'InstanceNormalization',
  'Einsum',
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
];
