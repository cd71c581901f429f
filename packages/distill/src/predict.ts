import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '@mc/ir';
import { initTraining } from './backend.js';
import { TrainableGraph } from './graph/compile.js';

/** Options of {@link predict}. */
export interface PredictOptions {
  /** Return the logits (input of a final Softmax) instead of the output. Default false. */
  logits?: boolean;
}

/**
 * Runs a model forward in the training runtime (tfjs wasm) on one NCHW batch: what training sees, so tests and tools
 * can compare it with onnxruntime.
 *
 * @example
 * ```ts
 * const { data, dims } = await predict(model, x, [8, 1, 28, 28]);
 * ```
 */
export async function predict(
  model: Model,
  x: Float32Array,
  dims: readonly number[],
  opts: PredictOptions = {},
): Promise<{ data: Float32Array; dims: number[] }> {
  await initTraining('wasm');
  const g = new TrainableGraph(model, { trainable: false });
  try {
    return tf.tidy(() => {
      const y = g.forward([tf.tensor(x, [...dims], 'float32')], { training: false, logits: opts.logits === true });
      return { data: y.dataSync() as Float32Array, dims: y.shape };
    });
  } finally {
    g.dispose();
  }
}
