/**
 * Binary and ternary weights with a per-channel scale.
 *
 * - binary (XNOR-Net, Rastegari et al. 2016): w ≈ α_c · sign(w), α_c = mean |w| over channel c (the L2-optimal α for
 *   fixed signs).
 * - ternary (TWN, Li & Liu 2016): Δ_c = 0.7 · mean |w|, w ≈ α_c · t with t = sign(w) where |w| > Δ_c else 0,
 *   α_c = mean |w| over the kept weights.
 *
 * Codes are codebook indices: binary 0 → -1, 1 → +1; ternary 0 → -1, 1 → 0, 2 → +1.
 */
export interface SignQuantized {
  readonly codes: Uint8Array;
  /** One scale per channel. */
  readonly scales: Float32Array;
  readonly codebook: Float32Array;
  readonly mse: number;
}

/**
 * @example
 * const r = quantizeSigns(w, [64, 3, 3, 3], 0, 'ternary');
 */
export function quantizeSigns(data: Float32Array, dims: readonly number[], axis: number, kind: 'binary' | 'ternary'): SignQuantized {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const ch = (i: number) => Math.floor(i / inner) % channels;
  const sumAbs = new Float64Array(channels);
  const cnt = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    sumAbs[ch(i)] += Math.abs(data[i]!);
    cnt[ch(i)]++;
  }
  const delta = new Float64Array(channels);
  if (kind === 'ternary') {
    for (let c = 0; c < channels; c++) delta[c] = cnt[c]! ? (0.7 * sumAbs[c]!) / cnt[c]! : 0;
    sumAbs.fill(0);
    cnt.fill(0);
    for (let i = 0; i < data.length; i++) {
      const a = Math.abs(data[i]!);
      if (a > delta[ch(i)]!) {
        sumAbs[ch(i)] += a;
        cnt[ch(i)]++;
      }
    }
  }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = cnt[c]! ? sumAbs[c]! / cnt[c]! : 0;
  const codes = new Uint8Array(data.length);
  let se = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    const c = ch(i);
    let t: number;
    if (kind === 'binary') t = x >= 0 ? 1 : -1;
    else t = Math.abs(x) > delta[c]! ? Math.sign(x) : 0;
    codes[i] = kind === 'binary' ? (t > 0 ? 1 : 0) : t + 1;
    const err = x - t * scales[c]!;
    se += err * err;
  }
  const codebook = kind === 'binary' ? new Float32Array([-1, 1]) : new Float32Array([-1, 0, 1]);
  return { codes, scales, codebook, mse: data.length ? se / data.length : 0 };
}
