export { runModel, createSession, type Feeds, type ModelSession, type RunModelOptions } from './run-model.js';
export { compareOutputs, compareTensor, type OutputComparison } from './compare.js';
export { assertNumericallyClose, allclose, type CloseOptions, type CloseReport } from './assert-close.js';
export { randomFeeds } from './random-feeds.js';
export { compareModels, type WorstComparison } from './compare-models.js';
