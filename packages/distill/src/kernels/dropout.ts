/**
 * Inverted-dropout mask data (kept units scaled by 1/(1 − ratio)) from a seeded mulberry32 stream: tf.dropout's
 * per-element seedrandom is ~50× slower than this on large activations. Both engines draw their masks here.
 * @internal
 */
export function dropoutMaskData(n: number, ratio: number, seed: number, out: Float32Array = new Float32Array(n)): Float32Array {
  const keep = 1 / (1 - ratio);
  let s = (seed >>> 0) ^ 0x85ebca6b;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296 >= ratio ? keep : 0;
  }
  return out;
}
