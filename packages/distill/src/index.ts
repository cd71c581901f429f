export { finetune, type TrainResult } from './finetune.js';
export { distill } from './distill.js';
export type { CheckpointFn, DistillOptions, OptimizerOptions, ScheduleOptions, TrainOptions, TrainProgress } from './options.js';
export { DISTILL_DEFAULTS, TRAIN_DEFAULTS } from './options.js';
export type { EpochReport, TrainReport } from './report.js';
export { initTraining } from './backend.js';
export { predict, type PredictOptions } from './predict.js';
export { lenet, mnistCnn, mlp, reinitialize, type ArchitectureOptions } from './architectures.js';
export { distillLm, type LmDistillOptions, type LmDistillReport, type TokenWindows } from './lm.js';
