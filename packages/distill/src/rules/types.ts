import type * as tf from '@tensorflow/tfjs-core';
import type { Node, Tensor } from '@mc/ir';
import type { Val } from '../graph/layout.js';

/** What a rule sees while the graph runs. @internal */
export interface RuleContext {
  readonly node: Node;
  readonly training: boolean;
  /** Seed for this node's randomness in this step (dropout). */
  readonly seed: number;
  readonly opset: number;
  /** Input `i` as a tensor; throws a coded error when absent and `required`. */
  input(i: number): Val;
  /** Input `i` when present. */
  optional(i: number): Val | undefined;
  /** The constant behind input `i` (an initializer or Constant output), when there is one. */
  constant(i: number): Tensor | undefined;
  /**
   * BatchNormalization in training: normalise with the batch's statistics and move the running mean/variance
   * (inputs 3, 4) towards them. Absent: inference form (running statistics, frozen).
   */
  readonly batchStats?: { momentum: number; update(input: number, value: tf.Tensor): void };
}

/** One op's forward computation with tfjs ops (differentiable by tfjs's tape). @internal */
export interface Rule {
  /** Input slots whose float initializers are trained (weights, biases, BN γ/β). */
  readonly trainable: readonly number[];
  run(ctx: RuleContext): Val[];
}

/** @internal */
export type TfTensor = tf.Tensor;
