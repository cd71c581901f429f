// IEEE 754 half and bfloat16 conversions on raw bit patterns (Uint16). Round-to-nearest-even, as the ONNX
// Cast spec requires (https://onnx.ai/onnx/operators/onnx__Cast.html).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Decodes one float16 bit pattern.
 *
 * @example
 * ```ts
 * halfToFloat(0x3c00); // 1
 * ```
 */
export function halfToFloat(h: number): number {
  return (halfValues ??= halfTable())[h & 0xffff]!;
}

function decodeHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m === 0 ? s * Infinity : NaN;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// Every float16 value is a float32 value, so one 256 KiB table decodes them all: a lookup instead of a power of two
// per element (decoding was most of the time of converting a model's weights to float16).
let halfValues: Float32Array | undefined;
function halfTable(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = decodeHalf(h);
  return t;
}

/**
 * Encodes a number as float16 bits, rounding to nearest even; overflow gives ±Infinity.
 *
 * @example
 * ```ts
 * floatToHalf(1); // 0x3c00
 * ```
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = mant >> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

/**
 * Decodes bfloat16 bits.
 *
 * @example
 * ```ts
 * bfloat16ToFloat(0x3f80); // 1
 * ```
 */
export function bfloat16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/**
 * Encodes bfloat16 bits with round-to-nearest-even (NaN stays NaN).
 *
 * @example
 * ```ts
 * floatToBfloat16(1); // 0x3f80
 * ```
 */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Array form of {@link halfToFloat}.
 *
 * @example
 * ```ts
 * float16ToFloat32(new Uint16Array([0x3c00])); // Float32Array [1]
 * ```
 */
export function float16ToFloat32(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]!);
  return out;
}

/**
 * Array form of {@link floatToHalf}.
 *
 * @example
 * ```ts
 * float32ToFloat16(new Float32Array([1])); // Uint16Array [0x3c00]
 * ```
 */
export function float32ToFloat16(x: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = floatToHalf(x[i]!);
  return out;
}
