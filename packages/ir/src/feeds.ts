import type { Tensor } from './tensor.js';

/**
 * Named input tensors of one model run: graph input name → tensor. Calibration (`@mc/quantize`), verification
 * (`@mc/verify`) and data pipelines (`@mc/pipeline`) all pass this shape.
 *
 * @example
 * ```ts
 * const feeds: Feeds = { x: new Tensor('float32', [1, 784], new Float32Array(784)) };
 * ```
 */
export type Feeds = Record<string, Tensor>;
