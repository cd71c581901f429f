/**
 * bitsandbytes 4-bit codes as onnxruntime's `com.microsoft.MatMulBnb4` reads them
 * (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.MatMulBnb4; kernel in
 * onnxruntime/contrib_ops/cpu/quantization/blockwise_quant_block_bnb4.h).
 *
 * Layout: the weight transposed to [N, K] and flattened is cut into blocks of `blockSize` consecutive elements (a block
 * may run over the end of one column of B into the next when K is not a multiple of the block size); each block keeps
 * absmax = max |x| (float32) and every element the 4-bit code of x / absmax in a 16-entry table, so
 * x ≈ table[code] · absmax. Two codes share a byte, the element with the even index in the **high** nibble (the
 * reverse of MatMulNBits' order); an odd element count pads the last low nibble with the code of 0.
 */

/** The two code tables: NormalFloat4 (quantiles of a normal distribution) and FP4 (sign, 2-bit exponent, 1-bit mantissa). */
export type Bnb4Type = 'nf4' | 'fp4';

/** MatMulBnb4's `quant_type` attribute per table (onnxruntime's Bnb_DataType_t: FP4 = 0, NF4 = 1). */
export const BNB4_QUANT_TYPE: Readonly<Record<Bnb4Type, 0 | 1>> = { fp4: 0, nf4: 1 };

/** The NF4 table (float32 values, indexed by code), as onnxruntime's dequantizer holds it. */
export const NF4_TABLE = Float32Array.from([
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1,
]);

/** The FP4 table (float32 values, indexed by code; bit 3 is the sign), as onnxruntime's dequantizer holds it. */
export const FP4_TABLE = Float32Array.from([
  0, 5.208333333e-3, 0.66666667, 1, 0.33333333, 0.5, 0.16666667, 0.25, -0, -5.208333333e-3, -0.66666667, -1, -0.33333333, -0.5, -0.16666667,
  -0.25,
]);

// Decision thresholds of onnxruntime's quantizer (QuantizeOneNF4 / QuantizeOneFP4): the midpoints between neighbouring
// table values, compared as float32 with `>`, so a value exactly on a midpoint takes the lower code. The NF4 codes are
// in value order, so the code is the count of thresholds below the value.
const NF4_SPLITS = Float32Array.from([
  -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984, -0.13791173323988914,
  -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
  0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
]);
// FP4 compares |x| with 7 splits; the magnitude codes in value order are 0, 1, 6, 7, 4, 5, 2, 3.
const FP4_SPLITS = Float32Array.from([0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333]);
const FP4_BY_RANK = [0, 1, 6, 7, 4, 5, 2, 3] as const;

function countBelow(splits: Float32Array, v: number): number {
  let c = 0;
  while (c < splits.length && v > splits[c]!) c++;
  return c;
}

/** The 4-bit code of one value already divided by its block's absmax (float32). @internal */
export function encodeBnb4(v: number, type: Bnb4Type): number {
  if (type === 'nf4') return countBelow(NF4_SPLITS, v);
  return FP4_BY_RANK[countBelow(FP4_SPLITS, Math.abs(v))]! | (v < 0 ? 8 : 0);
}

/** Packed MatMulBnb4 inputs of one weight. */
export interface Bnb4Packed {
  /** B: ⌈N·K/2⌉ bytes, two codes a byte, even element in the high nibble. */
  readonly packed: Uint8Array;
  /** absmax: one float32 per block, ⌈N·K / blockSize⌉. */
  readonly absmax: Float32Array;
  /** max |x − dequant(code)| over the weight. */
  readonly maxAbsError: number;
}

/**
 * Quantizes the flattened [N, K] weight (the transposed MatMul B) to bnb4 codes in blocks of `blockSize`: what
 * onnxruntime's `quantize_matmul_bnb4` computes, value for value (float32 absmax, reciprocal and products).
 *
 * @example
 * const { packed, absmax } = quantizeBnb4(wT, 64, 'nf4'); // wT: Float32Array of N·K
 */
export function quantizeBnb4(data: Float32Array, blockSize: number, type: Bnb4Type): Bnb4Packed {
  const numel = data.length;
  const nb = Math.ceil(numel / blockSize);
  const packed = new Uint8Array((numel + 1) >> 1);
  const absmax = new Float32Array(nb);
  const table = type === 'nf4' ? NF4_TABLE : FP4_TABLE;
  let maxAbsError = 0;
  for (let b = 0; b < nb; b++) {
    const s = b * blockSize;
    const e = Math.min(numel, s + blockSize);
    let m = 0;
    for (let i = s; i < e; i++) m = Math.max(m, Math.abs(data[i]!));
    absmax[b] = m;
    const scale = absmax[b]!;
    // float32 reciprocal then float32 product, as the kernel does (double rounding of / and * is exact here: 53 ≥ 2·24+2)
    const recip = scale === 0 ? 0 : Math.fround(1 / scale);
    for (let i = s; i < e; i++) {
      const c = encodeBnb4(Math.fround(data[i]! * recip), type);
      packed[i >> 1] = packed[i >> 1]! | ((i & 1) === 0 ? c << 4 : c);
      const err = Math.abs(Math.fround(table[c]! * scale) - data[i]!);
      if (err > maxAbsError) maxAbsError = err;
    }
  }
  if (numel % 2 === 1) packed[numel >> 1] = packed[numel >> 1]! | encodeBnb4(0, type);
  return { packed, absmax, maxAbsError };
}

/**
 * Reads bnb4 codes back to the flattened [N, K] float32 weight: table[code] · absmax in float32, the product
 * MatMulBnb4's dequantizer forms.
 *
 * @example
 * const wT = dequantizeBnb4(packed, absmax, n * k, 64, 'nf4');
 */
export function dequantizeBnb4(packed: Uint8Array, absmax: Float32Array, numel: number, blockSize: number, type: Bnb4Type): Float32Array {
  const table = type === 'nf4' ? NF4_TABLE : FP4_TABLE;
  const out = new Float32Array(numel);
  for (let i = 0; i < numel; i++) {
    const byte = packed[i >> 1]!;
    const c = (i & 1) === 0 ? byte >> 4 : byte & 0xf;
    out[i] = Math.fround(table[c]! * absmax[Math.floor(i / blockSize)]!);
  }
  return out;
}
