export { pipeline, techniqueOf, recipeMaxAccuracyDrop, type PipelineOptions, type PipelineResult, type StepResult } from './pipeline.js';
export { parseRecipe, type Recipe, type RecipeStep } from './recipe.js';
export {
  STEPS,
  STEP_NAMES,
  type PipelineStep,
  type StepName,
  type StepContext,
  type TechniqueReport,
  type QuantizeStepOptions,
} from './steps.js';
export { checkStep, type CheckPolicy, type StepCheck } from './check.js';
export {
  feedsFrom,
  collectFeeds,
  calibrationFeeds,
  namedFeeds,
  FEED_DEFAULTS,
  type Feeds,
  type FeedOptions,
  type CalibrationData,
} from './feeds.js';
export {
  pruneFlow,
  pruneFinetuneFlow,
  PRUNE_RECOVERY_DEFAULTS,
  compressFlow,
  type PruneFlowResult,
  type PruneFinetuneResult,
  type CompressFlowOptions,
  type CompressFlowResult,
} from './flows.js';
export {
  optimizeOnDataset,
  OPTIMIZE_DATA_DEFAULTS,
  type OptimizeDatasetOptions,
  type OptimizeDatasetResult,
} from './optimize-data.js';
export { optimize, OPTIMIZE_DEFAULTS, type OptimizeOptions, type OptimizeResult, type Candidate } from './optimize.js';
export {
  measure,
  accuracyOf,
  evaluateModel,
  EVALUATE_DEFAULTS,
  latencyOf,
  type Measurement,
  type ModelEvaluation,
  type Target,
} from './measure.js';
export {
  gate,
  GATE_DEFAULTS,
  gateFailure,
  nothingChanged,
  type GateOptions,
  type GateReport,
  type NothingChanged,
  type Untouched,
  type ChangeReport,
} from './gate.js';
export {
  variants,
  VARIANTS_DEFAULTS,
  writeVariants,
  VARIANT_DTYPES,
  VARIANT_FILES,
  VARIANT_SETS,
  ACCURACY_LEVELS,
  WEB_FLOOR,
  type VariantDtype,
  type VariantSet,
  type VariantsOptions,
  type VariantEntry,
  type VariantsReport,
  type VariantsResult,
} from './variants.js';
export {
  lintModel,
  suitedTargets,
  reducedOpsConfig,
  LINT_TARGETS,
  TARGET_RULES,
  type LintTarget,
  type LintFinding,
  type LintReport,
} from './lint.js';
