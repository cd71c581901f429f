export { quantize, type QuantizeResult } from './quantize.js';
export {
  type QuantizeOptions,
  type QuantizeMode,
  type QuantizeTarget,
  type CalibrationMethod,
  CALIBRATION_METHODS,
  type CalibrationRunner,
  type CommonOptions,
  type Feeds,
  type Fp16Options,
  type Bf16Options,
  type Int8WeightsOptions,
  type Int8DynamicOptions,
  type Int8StaticOptions,
  type Int4Options,
  type Q4f16Options,
  type EmbeddingsForm,
  EMBEDDINGS_FORMS,
  type KMeansOptions,
  type SignOptions,
  type QuantizeProgress,
  QUANTIZE_MODES,
  INT4_METHODS,
  INT4_BLOCK_SIZES,
  QUANTIZE_DEFAULTS,
  INT4_CONV_BITS_DEFAULT,
  type Int4Method,
  FP16_BLOCK_LIST,
} from './options.js';
export type { QuantizeReport, NodeReport, PassedThrough, CalibrationReport } from './report.js';
export type { SlimStats } from './slim.js';
export { ortNodeRunner } from './runner.js';
