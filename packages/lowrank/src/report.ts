import type { McWarning, ModelStats } from '@mc/ir';

/** What happened to one weight layer. */
export interface LayerReport {
  node: string;
  opType: string;
  /** 'svd' for MatMul/Gemm (W ≈ A·B), 'tucker2' for Conv (1x1 → core → 1x1) */
  method: 'svd' | 'tucker2';
  /** weight shape as stored */
  oldShape: number[];
  /** shapes of the replacement weights, in execution order (empty when kept) */
  newShapes: number[][];
  /** Dense: [k]; Conv: [kIn, kOut] */
  ranks: number[];
  /** mean|W − Ŵ| / mean|W| (keras_compressor's measure) at the chosen ranks; 0 when kept */
  weightError: number;
  /** ‖W − Ŵ‖_F / ‖W‖_F at the chosen ranks */
  frobeniusError: number;
  /** with calibration: ‖Y − Ŷ‖_F / ‖Y‖_F of the layer outputs (bias-free) on the calibration data */
  outputError?: number;
  paramsBefore: number;
  paramsAfter: number;
  /** which decomposition produced the factors */
  decomposition: 'exact' | 'randomized' | 'calibrated';
  replaced: boolean;
  /** why a layer was kept, when it was */
  reason?: string;
}

/** A node left as it was, with the reason. */
export interface PassedThrough {
  node: string;
  opType: string;
  reason: string;
}

/**
 * Report of {@link factorize}: data, never printed by the library.
 * @example
 * const { report } = await factorize(model, { error: 0.3 });
 * report.after.params / report.before.params;
 */
export interface FactorizeReport {
  technique: 'lowrank';
  policy: { error: number } | { rank: number } | { ratio: number } | { energy: number };
  before: ModelStats;
  after: ModelStats;
  nodes: LayerReport[];
  passedThrough: PassedThrough[];
  warnings: McWarning[];
}
