export { runModel, createSession, type Feeds, type ModelSession, type RunModelOptions } from './run-model.js';
export { compareOutputs, compareTensor, type OutputComparison } from './compare.js';
export { assertNumericallyClose, allclose, type CloseOptions, type CloseReport } from './assert-close.js';
export { randomFeeds } from './random-feeds.js';
export { compareModels, type WorstComparison } from './compare-models.js';
export { GATE_THRESHOLDS, type GateTechnique, type GateThresholds } from './thresholds.js';
export { syntheticFeeds, type SyntheticFeedOptions } from './synthetic-feeds.js';
export { checkAgreement, customDomainOps, type AgreementOptions, type AgreementReport, type OutputAgreement } from './agreement.js';
export { nonFiniteWeights, assertFiniteWeights, type NonFiniteWeight } from './weights-policy.js';
