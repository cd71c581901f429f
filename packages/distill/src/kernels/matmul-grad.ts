import * as tf from '@tensorflow/tfjs-core';

/** Swaps the last two axes. */
const t2 = (x: tf.Tensor): tf.Tensor => {
  const r = x.rank;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
};

/**
 * BatchMatMul gradient with explicit transposes. On wasm, matMul with transposeA/transposeB flags is 10–25× slower
 * than a transpose plus a plain matMul (measured: [128,9216]ᵀ-style products 986 ms vs 40 ms), and the stock gradient
 * uses the flags. For C = op(A)·op(B): dA = dC·op(B)ᵀ (or op(B)·dCᵀ when A is transposed), dB = op(A)ᵀ·dC (or
 * dCᵀ·op(A) when B is transposed). Operands of different ranks (broadcast batch dims) use the stock gradient.
 * @internal
 */
export function registerMatMulGradient(): void {
  const stock = tf.getGradient(tf.BatchMatMul);
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as [tf.Tensor, tf.Tensor];
      if (a.rank !== b.rank || a.shape.slice(0, -2).some((d, i) => d !== b.shape[i]) || stock === undefined) {
        return stock!.gradFunc(dy, saved, attrs);
      }
      const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
      const d = dy as tf.Tensor;
      return {
        a: () => {
          const opB = transposeB ? t2(b) : b;
          return transposeA ? tf.matMul(opB, t2(d)) : tf.matMul(d, t2(opB));
        },
        b: () => {
          const opA = transposeA ? t2(a) : a;
          return transposeB ? tf.matMul(t2(d), opA) : tf.matMul(t2(opA), d);
        },
      };
    },
  });
}
