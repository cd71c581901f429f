export { factorize, type FactorizeResult } from './factorize.js';
export type { FactorizeOptions, FactorizePolicy, FactorizeCommonOptions, FactorizeProgress } from './options.js';
export { FACTORIZE_DEFAULTS, FACTORIZE_POLICIES, factorizePolicy } from './options.js';
export type { FactorizeReport, LayerReport, PassedThrough } from './report.js';
export type { Feeds } from '@mc/verify';
export { svd, truncate, type SvdResult } from './kernels/svd.js';
export { rsvd, type RsvdOptions } from './kernels/rsvd.js';
export { jsEngine, tfjsWasmEngine, type MatmulEngine, type BoundMatrix } from './kernels/engine.js';
export { tucker2, reconstruct as reconstructTucker2, type Tucker2 } from './kernels/tucker2.js';
