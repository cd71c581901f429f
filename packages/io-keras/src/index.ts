export { readKeras, loadKeras, type KerasSource, type KerasReadResult, type KerasFormat } from './read.js';
export { type PassedThroughLayer, KERAS_MODEL_KEY, KERAS_OPSET } from './to-ir.js';
export { KERAS_LAYER_KEY, KERAS_LAYOUT_KEY, KERAS_DOMAIN } from './lower-context.js';
export { KNOWN_ACTIVATIONS } from './activations.js';
export type { KerasGraph, KerasLayer, KerasCall, KerasTensorRef } from './keras-graph.js';
export type * from './keras-format.js';
export { saveKeras, type SaveKerasOptions, type SaveKerasResult } from './save.js';
export type { TfjsQuantize } from './write-formats.js';
