import { roundHalfEven } from './qparams.js';

/**
 * Block-wise 4-bit (or 8-bit: GatherBlockQuantized tables) round-to-nearest (RTN) quantization of a [rows, cols]
 * row-major matrix along its rows: each run of
 * `blockSize` consecutive elements of a row gets its own scale (and zero point when asymmetric). This is the layout of
 * `com.microsoft.MatMulNBits` (rows = N output columns, cols = K) and of ONNX DequantizeLinear's `block_size`.
 *
 * Values are stored unsigned (0..15; 0..255 at 8 bits, with 127 and 255 for 7 and 15 below) with zero point zp,
 * x ≈ (q - zp) · scale:
 * - symmetric: scale = max|x| / 7, zp = 8 (q - 8 ∈ [-7, 7]: -x quantizes to -q),
 * - asymmetric: range widened to include 0, scale = (max - min) / 15, zp = round(-min / scale).
 */
export interface BlockQuantized {
  /** Unsigned 4-bit values (0..15), one per element, [rows, cols] row-major. */
  readonly q: Uint8Array;
  /** [rows, blocksPerRow] scales. */
  readonly scales: Float32Array;
  /** [rows, blocksPerRow] zero points (8 everywhere when symmetric). */
  readonly zeroPoints: Uint8Array;
  readonly blocksPerRow: number;
  /** max |x - dequant(q)|. */
  readonly maxAbsError: number;
}

/**
 * The outputs of a block kernel on a [rows, cols] matrix, zero-filled: codes, and per block a scale and a zero point.
 * @internal
 */
export function blockBuffers(
  rows: number,
  cols: number,
  blockSize: number,
): { nb: number; q: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array } {
  const nb = Math.ceil(cols / blockSize);
  return { nb, q: new Uint8Array(rows * cols), scales: new Float32Array(rows * nb), zeroPoints: new Uint8Array(rows * nb) };
}

/**
 * @example
 * const r = quantizeBlocks(wT, n, k, 32, true);
 */
export function quantizeBlocks(
  data: Float32Array,
  rows: number,
  cols: number,
  blockSize: number,
  symmetric: boolean,
  bits: 4 | 8 = 4,
): BlockQuantized {
  const qmax = (1 << bits) - 1;
  const { nb, q, scales, zeroPoints } = blockBuffers(rows, cols, blockSize);
  let maxAbsError = 0;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const s = r * cols + b * blockSize;
      const e = r * cols + Math.min(cols, (b + 1) * blockSize);
      const [lo, hi] = blockRange(data, s, e);
      const [scale, zp] = blockParams(lo, hi, symmetric, bits);
      scales[r * nb + b] = scale;
      zeroPoints[r * nb + b] = zp;
      for (let i = s; i < e; i++) {
        let v = roundHalfEven(data[i]! / scale) + zp;
        v = v < 0 ? 0 : v > qmax ? qmax : v;
        q[i] = v;
        const err = Math.abs((v - zp) * scale - data[i]!);
        if (err > maxAbsError) maxAbsError = err;
      }
    }
  }
  return { q, scales, zeroPoints, blocksPerRow: nb, maxAbsError };
}

/** [min(0, x), max(0, x)] over x[s..e): the range a 4-bit block must cover (0 included, so it stays exact). @internal */
export function blockRange(data: ArrayLike<number>, s: number, e: number): [number, number] {
  let lo = 0;
  let hi = 0;
  for (let i = s; i < e; i++) {
    const x = data[i]!;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/**
 * Scale and zero point of a `bits`-bit block (4 or 8) covering [lo, hi]: symmetric scale = max|x|/7 (/127) with zero
 * point 8 (128), asymmetric scale = (hi - lo)/15 (/255) with zero point round(-lo/scale); a block of zeros gets scale 1.
 * @internal
 */
export function blockParams(lo: number, hi: number, symmetric: boolean, bits: 4 | 8 = 4): [scale: number, zeroPoint: number] {
  const qmax = (1 << bits) - 1;
  const half = 1 << (bits - 1);
  let scale: number;
  let zp: number;
  if (symmetric) {
    scale = Math.fround(Math.max(-lo, hi) / (half - 1));
    zp = half;
  } else {
    scale = Math.fround((hi - lo) / qmax);
    zp = scale > 0 ? Math.max(0, Math.min(qmax, roundHalfEven(-lo / scale))) : 0;
  }
  return [scale > 0 ? scale : 1, zp];
}

/**
 * Packs values of `bits` bits (1, 2, 4 or 8) into bytes, lowest element in the lowest bits (ONNX raw_data order for
 * int4/uint4: "the first element is stored in the 4 least significant bits"). Values are masked to `bits` bits, so
 * signed int4 values pack as two's complement.
 * @example
 * packBits([1, 2, 3], 4); // Uint8Array [0x21, 0x03]
 */
export function packBits(values: ArrayLike<number>, bits: 1 | 2 | 4 | 8): Uint8Array {
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(Math.ceil(values.length / per));
  for (let i = 0; i < values.length; i++) {
    out[(i / per) | 0]! |= (values[i]! & mask) << ((i % per) * bits);
  }
  return out;
}

/** Inverse of {@link packBits} (unsigned values). */
export function unpackBits(packed: Uint8Array, bits: 1 | 2 | 4 | 8, count: number): Uint8Array {
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (packed[(i / per) | 0]! >> ((i % per) * bits)) & mask;
  return out;
}

/** Transposes a [rows, cols] row-major matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c]!;
  }
  return out;
}
