import {
  bfloat16ToFloat as fromBfloat16Bits,
  floatToBfloat16 as toBfloat16Bits,
  floatToHalf as toFloat16Bits,
  halfToFloat as fromFloat16Bits,
} from '@mc/ir';

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

/** Largest finite float16 value. */
export const FLOAT16_MAX = 65504;

// The scalar converters are @mc/ir's (one implementation of IEEE half / bfloat16 rounding in the workspace).
export {
  floatToHalf as toFloat16Bits,
  halfToFloat as fromFloat16Bits,
  floatToBfloat16 as toBfloat16Bits,
  bfloat16ToFloat as fromBfloat16Bits,
} from '@mc/ir';

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
