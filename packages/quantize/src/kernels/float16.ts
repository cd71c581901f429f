/**
 * float32 → float16 / bfloat16 conversion with round-to-nearest-even and saturation.
 *
 * IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits; largest finite 65504. bfloat16 is the upper half
 * of a float32 (8 exponent bits), so only the mantissa is rounded. Finite values beyond the float16 range are clamped
 * to ±65504 (not turned into ±Inf as a plain cast would) and counted, so the caller can warn; non-zero values that
 * round to zero are counted as underflows.
 */

/** Counts of values the conversion could not represent. */
export interface HalfConversion {
  /** Raw float16/bfloat16 bits. */
  readonly bits: Uint16Array;
  /** Finite inputs with |x| > max finite, clamped to ±max. */
  readonly clamped: number;
  /** Non-zero finite inputs that became ±0. */
  readonly underflowed: number;
  /** Largest absolute conversion error over the finite, non-clamped inputs. */
  readonly maxAbsError: number;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Largest finite float16 value. */
export const FLOAT16_MAX = 65504;

/** One float32 → float16 bit pattern, round-to-nearest-even, no clamping (overflow gives ±Inf). */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN (quiet)
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // subnormal half: shift the implicit-one mantissa right, rounding to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

/** float16 bits → number. */
export function fromFloat16Bits(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** One float32 → bfloat16 bit pattern, round-to-nearest-even (NaN stays NaN). */
export function toBfloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return ((b >>> 16) | 0x40) & 0xffff;
  const rounded = b + 0x7fff + ((b >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** bfloat16 bits → number. */
export function fromBfloat16Bits(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/**
 * Converts a float32 array to float16 bits, clamping finite out-of-range values to ±65504.
 * @example
 * const { bits, clamped } = convertToFloat16(new Float32Array([1, 1e6])); // clamped === 1
 */
export function convertToFloat16(src: Float32Array): HalfConversion {
  const bits = new Uint16Array(src.length);
  let clamped = 0;
  let underflowed = 0;
  let maxAbsError = 0;
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    if (Number.isFinite(x) && Math.abs(x) > FLOAT16_MAX) {
      bits[i] = x > 0 ? 0x7bff : 0xfbff;
      clamped++;
      continue;
    }
    const h = toFloat16Bits(x);
    bits[i] = h;
    if (x !== 0 && (h & 0x7fff) === 0) underflowed++;
    if (Number.isFinite(x)) {
      const err = Math.abs(fromFloat16Bits(h) - x);
      if (err > maxAbsError) maxAbsError = err;
    }
  }
  return { bits, clamped, underflowed, maxAbsError };
}

/**
 * Converts a float32 array to bfloat16 bits (round-to-nearest-even). bfloat16 has float32's range, so nothing is
 * clamped; underflow cannot happen for normal float32 either.
 * @example
 * const { bits } = convertToBfloat16(new Float32Array([1.5]));
 */
export function convertToBfloat16(src: Float32Array): HalfConversion {
  const bits = new Uint16Array(src.length);
  let maxAbsError = 0;
  let clamped = 0;
  for (let i = 0; i < src.length; i++) {
    const x = src[i]!;
    let h = toBfloat16Bits(x);
    if (Number.isFinite(x) && (h & 0x7fff) === 0x7f80) {
      h = (h & 0x8000) | 0x7f7f; // rounding overflowed to Inf: clamp to the largest finite bfloat16
      clamped++;
    }
    bits[i] = h;
    if (Number.isFinite(x)) {
      const err = Math.abs(fromBfloat16Bits(h) - x);
      if (err > maxAbsError) maxAbsError = err;
    }
  }
  return { bits, clamped, underflowed: 0, maxAbsError };
}
