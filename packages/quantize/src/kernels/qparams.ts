/**
 * Affine quantization parameters: q = saturate(round_half_even(x / scale) + zero_point) (ONNX QuantizeLinear,
 * https://onnx.ai/onnx/operators/onnx__QuantizeLinear.html) and x ≈ (q - zero_point) * scale.
 *
 * Ranges follow onnxruntime.quantization (`quant_utils.compute_scale_zp`, `get_qmin_qmax_for_qType`): the range is
 * widened to include 0 so that zero is exact; symmetric int8 uses [-127, 127] so that -x quantizes to -q; `reduceRange`
 * drops one bit (7-bit values) for CPUs whose int8 dot products can saturate (pre-VNNI x86 without `vpmaddubsw` care).
 */

/** Integer storage types the kernels produce. */
export type QType = 'int8' | 'uint8' | 'int4' | 'uint4';

/** Scale and zero point of one tensor or one channel. */
export interface QParams {
  readonly scale: number;
  readonly zeroPoint: number;
}

/** [qmin, qmax] for a storage type. */
export function qRange(qtype: QType, opts: { symmetric?: boolean; reduceRange?: boolean } = {}): [number, number] {
  const { symmetric = false, reduceRange = false } = opts;
  switch (qtype) {
    case 'int8':
      if (reduceRange) return [-64, 64];
      return symmetric ? [-127, 127] : [-128, 127];
    case 'uint8':
      return reduceRange ? [0, 127] : [0, 255];
    case 'int4':
      return symmetric ? [-7, 7] : [-8, 7];
    case 'uint4':
      return [0, 15];
  }
}

/** Round half to even, as ONNX QuantizeLinear does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Scale and zero point for the real range [rmin, rmax].
 * @example
 * computeQParams(-1, 3, 'uint8'); // { scale: 4 / 255, zeroPoint: 64 }
 */
export function computeQParams(
  rmin: number,
  rmax: number,
  qtype: QType,
  opts: { symmetric?: boolean; reduceRange?: boolean } = {},
): QParams {
  const [qmin, qmax] = qRange(qtype, opts);
  let lo = Math.min(rmin, 0);
  let hi = Math.max(rmax, 0);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = Number.isFinite(lo) ? lo : -3.4e38;
    hi = Number.isFinite(hi) ? hi : 3.4e38;
  }
  if (opts.symmetric) {
    const a = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -a;
    hi = a;
  }
  let scale = Math.fround((hi - lo) / (qmax - qmin));
  if (!(scale > 1.17549435e-38)) return { scale: 1, zeroPoint: opts.symmetric ? symmetricZero(qtype) : qmin < 0 ? 0 : qmin };
  if (opts.symmetric) return { scale, zeroPoint: symmetricZero(qtype) };
  const zp = roundHalfEven(qmin - lo / scale);
  scale = Math.fround(scale);
  return { scale, zeroPoint: Math.max(qmin, Math.min(qmax, zp)) };
}

function symmetricZero(qtype: QType): number {
  return qtype === 'uint8' ? 128 : qtype === 'uint4' ? 8 : 0;
}

/** Quantizes one value. */
export function quantizeValue(x: number, p: QParams, qmin: number, qmax: number): number {
  const q = roundHalfEven(x / p.scale) + p.zeroPoint;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

/** Result of a per-tensor or per-axis quantization, with its reconstruction error. */
export interface AxisQuantized {
  /** Quantized values, one per input element, in the input order. */
  readonly q: Int32Array;
  /** One entry per channel (length 1 for per-tensor). */
  readonly params: QParams[];
  /** max |x - dequant(q)|. */
  readonly maxAbsError: number;
}

/**
 * Quantizes a row-major tensor of `dims` per tensor (`axis` undefined) or per channel along `axis`.
 * @example
 * const { q, params } = quantizeAxis(w, [4, 3], 1, 'int8', { symmetric: true });
 */
export function quantizeAxis(
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  qtype: QType,
  opts: { symmetric?: boolean; reduceRange?: boolean } = {},
): AxisQuantized {
  const [qmin, qmax] = qRange(qtype, opts);
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const mins = new Float64Array(channels).fill(Infinity);
  const maxs = new Float64Array(channels).fill(-Infinity);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const x = data[i]!;
    if (x < mins[c]!) mins[c] = x;
    if (x > maxs[c]!) maxs[c] = x;
  }
  const params: QParams[] = [];
  for (let c = 0; c < channels; c++) {
    params.push(computeQParams(data.length ? mins[c]! : 0, data.length ? maxs[c]! : 0, qtype, opts));
  }
  const q = new Int32Array(data.length);
  let maxAbsError = 0;
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const p = params[c]!;
    const v = quantizeValue(data[i]!, p, qmin, qmax);
    q[i] = v;
    const err = Math.abs((v - p.zeroPoint) * p.scale - data[i]!);
    if (err > maxAbsError) maxAbsError = err;
  }
  return { q, params, maxAbsError };
}
