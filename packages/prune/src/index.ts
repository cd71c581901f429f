export { prune, type PruneResult } from './prune.js';
export type {
  PruneOptions,
  MagnitudeOptions,
  ChannelOptions,
  PruneCommonOptions,
  PruneProgress,
  SparseStorage,
  SparseIndices,
  Importance,
  ImportanceLayer,
} from './options.js';
export { PRUNE_DEFAULTS } from './options.js';
export type { PruneReport, WeightReport, GroupReport, GroupMember, PassedThrough } from './report.js';
export { l1Importance, l2Importance, bnImportance } from './importance.js';
export { foldBatchNormPass } from './fold-bn.js';
export { indexTypeFor, type SparseIndexType } from './storage.js';
export { storePruned, type StoreOptions, type StoreReport, type StoredWeight } from './store.js';
export { pruneMasks, restoreMasks, type MaskReport } from './restore.js';
export { unstorePruned } from './unstore.js';
export {
  reconstruct,
  RECONSTRUCT_DEFAULTS,
  type ReconstructOptions,
  type ReconstructReport,
  type ReconstructedLayer,
} from './reconstruct.js';
