/**
 * What each technique's output must meet before `mc` writes it: the one table of verification thresholds. The CLI,
 * the pipeline and docs/verify.md read it from here; nothing restates the numbers.
 */

/** A technique (or quantize mode) whose output is verified against its input. */
export type GateTechnique =
  | 'convert'
  | 'relayout'
  | 'fp16'
  | 'bf16'
  | 'int8-weights'
  | 'int8-dynamic'
  | 'int8-static'
  | 'int4'
  | 'q4f16'
  | 'bnb4'
  | 'kmeans'
  | 'binary'
  | 'ternary'
  | 'lowrank'
  | 'prune-magnitude'
  | 'prune-channels'
  | 'finetune'
  | 'distill'
  | 'optimize';

/** Bounds of one technique. Every gate also refuses NaN/Inf outputs the reference does not give. */
export interface GateThresholds {
  /** Lossless: every output byte-equal (onnxruntime optimizations off on both sides). */
  readonly exact: boolean;
  /**
   * Least cosine similarity of every output with the reference's, on synthetic inputs (and on held-out data when
   * given). `undefined`: no agreement bound, because the technique changes outputs by design (training).
   */
  readonly minCosine: number | undefined;
  /** With `--dataset`: largest top-1 accuracy loss on the held-out (test) split, in percentage points. */
  readonly maxAccuracyDrop: number;
  /** Why these numbers (shown in docs). */
  readonly why: string;
}

const LOSSY_FLOOR = 0.5;

/**
 * The thresholds, per technique. Near-exact paths (fp16, int8) are held close; lossy-by-design paths (low rank,
 * pruning, k-means, binary/ternary) get a floor that catches a broken graph, not a quality bar: the accuracy bound
 * with `--dataset` is the quality bar.
 *
 * @example
 * ```ts
 * GATE_THRESHOLDS['fp16'].minCosine; // 0.999
 * ```
 */
export const GATE_THRESHOLDS: Readonly<Record<GateTechnique, GateThresholds>> = {
  convert: { exact: true, minCosine: 1, maxAccuracyDrop: 0, why: 'lossless: the written model must compute the same bytes' },
  relayout: {
    exact: false,
    minCosine: 0.99999,
    maxAccuracyDrop: 0,
    why: 'ops of another exporter rewritten as Keras layers (kernels transposed to NHWC, biases folded): float rounding only',
  },
  fp16: { exact: false, minCosine: 0.999, maxAccuracyDrop: 0.2, why: 'near-exact: 11-bit mantissa, float32 I/O' },
  bf16: { exact: false, minCosine: 0.99, maxAccuracyDrop: 0.5, why: 'near-exact: 8-bit mantissa' },
  'int8-weights': { exact: false, minCosine: 0.99, maxAccuracyDrop: 1, why: 'near-exact: 8-bit weights, float compute' },
  'int8-dynamic': { exact: false, minCosine: 0.98, maxAccuracyDrop: 1, why: 'near-exact: 8-bit weights and per-batch activation ranges' },
  'int8-static': {
    exact: false,
    minCosine: 0.95,
    maxAccuracyDrop: 1,
    why: 'calibrated activation ranges; synthetic inputs may leave them',
  },
  int4: { exact: false, minCosine: 0.9, maxAccuracyDrop: 2, why: '4-bit blocks lose more than int8' },
  q4f16: { exact: false, minCosine: 0.9, maxAccuracyDrop: 2, why: "int4's 4-bit blocks; float16 compute adds far less" },
  bnb4: { exact: false, minCosine: 0.9, maxAccuracyDrop: 2, why: "4-bit NF4/FP4 codes in blocks: int4's bounds" },
  kmeans: {
    exact: false,
    minCosine: LOSSY_FLOOR,
    maxAccuracyDrop: 2,
    why: 'lossy by design (1..8-bit codebooks): floor catches a broken graph',
  },
  binary: {
    exact: false,
    minCosine: 0,
    maxAccuracyDrop: 5,
    why: '1-bit weights are meant to be retrained afterwards: only NaN/Inf, shape changes and anti-correlated outputs fail',
  },
  ternary: {
    exact: false,
    minCosine: 0,
    maxAccuracyDrop: 5,
    why: '2-level weights are meant to be retrained afterwards: only NaN/Inf, shape changes and anti-correlated outputs fail',
  },
  lowrank: {
    exact: false,
    minCosine: LOSSY_FLOOR,
    maxAccuracyDrop: 2,
    why: 'lossy by design (ranks follow --error): floor catches a broken graph',
  },
  'prune-magnitude': {
    exact: false,
    minCosine: LOSSY_FLOOR,
    maxAccuracyDrop: 2,
    why: 'lossy by design (zeros follow --sparsity): floor catches a broken graph',
  },
  'prune-channels': {
    exact: false,
    minCosine: LOSSY_FLOOR,
    maxAccuracyDrop: 2,
    why: 'lossy by design (channels removed): floor catches a broken graph',
  },
  finetune: {
    exact: false,
    minCosine: undefined,
    maxAccuracyDrop: 1,
    why: 'training changes outputs by design: finite outputs, accuracy not below the input',
  },
  distill: {
    exact: false,
    minCosine: undefined,
    maxAccuracyDrop: 1,
    why: 'training changes outputs by design: finite outputs, accuracy not below the input',
  },
  optimize: {
    exact: false,
    minCosine: undefined,
    maxAccuracyDrop: 0.5,
    why: 'the search bound --max-accuracy-drop, re-checked on the test split',
  },
};

/**
 * Whether a check without data can only catch a broken graph for these bounds: lossy-by-design techniques (floor
 * cosine, or no agreement bound at all). Their accuracy needs data (`--dataset`, `mc eval`); near-exact paths are held
 * close enough that agreement on synthetic inputs says something.
 *
 * @example
 * ```ts
 * onlyCatchesBrokenGraphs(GATE_THRESHOLDS['prune-channels']); // true
 * onlyCatchesBrokenGraphs(GATE_THRESHOLDS.fp16); // false
 * ```
 */
export function onlyCatchesBrokenGraphs(t: GateThresholds): boolean {
  return !t.exact && (t.minCosine === undefined || t.minCosine <= LOSSY_FLOOR);
}
