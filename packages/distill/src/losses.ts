import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean cross-entropy of logits `z` [B, K] against integer labels: −(1/B)·Σ log σ(z)_y.
 * @internal
 */
export function crossEntropy(z: tf.Tensor, labels: tf.Tensor1D, k: number): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, k), tf.logSoftmax(z)), -1))) as tf.Scalar);
}

/**
 * Hinton's soft-target loss: T²·CE(σ(t/T), σ(s/T)) averaged over the batch. The T² keeps the gradient scale
 * independent of T (Hinton, Vinyals & Dean 2015, §2). CE differs from KL(p‖q) only by the teacher's entropy, a
 * constant, so the gradients are those of the KL divergence.
 * @internal
 */
export function softTargetLoss(student: tf.Tensor, teacher: tf.Tensor, T: number): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.softmax(tf.div(teacher, T));
    const logq = tf.logSoftmax(tf.div(student, T));
    return tf.mul(tf.neg(tf.mean(tf.sum(tf.mul(p, logq), -1))), T * T) as tf.Scalar;
  });
}

/**
 * The full distillation loss α·soft + (1 − α)·hard.
 * @internal
 */
export function distillLoss(student: tf.Tensor, teacher: tf.Tensor, labels: tf.Tensor1D, k: number, T: number, alpha: number): tf.Scalar {
  return tf.tidy(() => {
    const soft = alpha > 0 ? softTargetLoss(student, teacher, T) : tf.scalar(0);
    const hard = alpha < 1 ? crossEntropy(student, labels, k) : tf.scalar(0);
    return tf.add(tf.mul(soft, alpha), tf.mul(hard, 1 - alpha)) as tf.Scalar;
  });
}
