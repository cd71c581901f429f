import { type Model, type Node, Tensor, toFloat32, attr } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf } from '../graph-utils.js';
import { computeQParams, qRange, quantizeValue, type QParams } from '../kernels/qparams.js';
import type { Int8WeightsOptions } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { rewriteWeights } from './weights.js';

/**
 * Per-channel (or per-tensor) ranges of a weight, one pass over its data.
 * @internal
 */
export function channelRanges(
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
): { mins: Float64Array; maxs: Float64Array } {
  const channels = axis === undefined ? 1 : dims[axis]!;
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const mins = new Float64Array(channels);
  const maxs = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = axis === undefined ? 0 : Math.floor(i / inner) % channels;
    const x = data[i]!;
    if (x < mins[c]!) mins[c] = x;
    if (x > maxs[c]!) maxs[c] = x;
  }
  return { mins, maxs };
}

/**
 * Quantizes `data` with known per-channel params (int8 or uint8 storage).
 * @internal
 */
export function quantizeWith(
  data: Float32Array,
  dims: readonly number[],
  axis: number | undefined,
  params: readonly QParams[],
  qmin: number,
  qmax: number,
  out: Int8Array | Uint8Array,
): number {
  const channels = params.length;
  const inner = axis === undefined ? data.length : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  let maxErr = 0;
  for (let i = 0; i < data.length; i++) {
    const p = params[axis === undefined ? 0 : Math.floor(i / inner) % channels]!;
    const q = quantizeValue(data[i]!, p, qmin, qmax);
    out[i] = q;
    const e = Math.abs((q - p.zeroPoint) * p.scale - data[i]!);
    if (e > maxErr) maxErr = e;
  }
  return maxErr;
}

/**
 * The int8/uint8 codes of a weight for per-axis `params`. A lazy (external-data) weight gets lazy codes, recomputed from
 * `read()` when the writer asks for them, so only one weight's float32 values are in memory at a time; the error is
 * then the bound, half a step. Otherwise the codes are computed from `data` now, with the measured error. The lazy
 * loader reads only `read`: a closure that kept `data` would keep every float32 weight alive.
 * @internal
 */
export function int8Codes(
  data: Float32Array,
  read: () => Float32Array,
  lazy: boolean,
  dims: readonly number[],
  axis: number | undefined,
  params: readonly QParams[],
  qtype: 'int8' | 'uint8',
  [qmin, qmax]: readonly [number, number],
): { tensor: Tensor; maxAbsError: number } {
  const n = data.length;
  const make = () => (qtype === 'int8' ? new Int8Array(n) : new Uint8Array(n));
  if (lazy) {
    const tensor = new Tensor(qtype, dims, () => {
      const out = make();
      quantizeWith(read(), dims, axis, params, qmin, qmax, out);
      return out as never;
    });
    return { tensor, maxAbsError: params.reduce((a, p) => Math.max(a, p.scale / 2), 0) };
  }
  const out = make();
  const maxAbsError = quantizeWith(data, dims, axis, params, qmin, qmax, out);
  return { tensor: new Tensor(qtype, dims, out as never), maxAbsError };
}

/**
 * Builds `DequantizeLinear(q, scale, zero_point, axis)` for a weight; lazy (external-data) weights stay lazy: the
 * scales are computed in one read, and the int8 data is recomputed when the writer asks for it, so a model larger than
 * memory streams through.
 * @internal
 */
export function dequantizedWeight(
  emit: Emitter,
  before: Node,
  name: string,
  t: Tensor,
  axis: number | undefined,
  qtype: 'int8' | 'uint8',
  opts: { symmetric: boolean; reduceRange?: boolean },
): {
  value: ReturnType<Emitter['node']>[0];
  scale: ReturnType<Emitter['init']>;
  bytesAfter: number;
  maxAbsError: number;
  params: QParams[];
} {
  const data = toFloat32(t);
  const { mins, maxs } = channelRanges(data, t.dims, axis);
  const params = Array.from(mins, (lo, c) => computeQParams(lo, maxs[c]!, qtype, opts));
  const { tensor: q, maxAbsError } = int8Codes(data, () => toFloat32(t), t.isLazy, t.dims, axis, params, qtype, qRange(qtype, opts));
  const perAxis = axis !== undefined;
  const scale = new Tensor(
    'float32',
    perAxis ? [params.length] : [],
    Float32Array.from(params, (p) => p.scale),
  );
  const zpData = qtype === 'int8' ? Int8Array.from(params, (p) => p.zeroPoint) : Uint8Array.from(params, (p) => p.zeroPoint);
  const zp = new Tensor(qtype, perAxis ? [params.length] : [], zpData as never);
  const qv = emit.init(`${name}_quantized`, q);
  const sv = emit.init(`${name}_scale`, scale);
  const zv = emit.init(`${name}_zero_point`, zp);
  const [out] = emit.node(before, 'DequantizeLinear', [qv, sv, zv], {
    name: `${name}_DequantizeLinear`,
    ...(perAxis && { attrs: { axis: attr.int(axis) } }),
    dtypes: ['float32'],
  });
  out!.shape = t.dims;
  return { value: out!, scale: sv, bytesAfter: bytesOf(q, scale, zp), maxAbsError, params };
}

/** int8 weight-only: DequantizeLinear on every layer weight. @internal */
export function quantizeInt8Weights(model: Model, opts: Int8WeightsOptions, emit: Emitter, report: ReportBuilder): void {
  const perChannel = opts.perChannel ?? true;
  const symmetric = opts.symmetric ?? true;
  rewriteWeights(model, { exclude: opts.exclude, report }, (node, w) => {
    const axis = perChannel ? w.outAxis : undefined;
    const r = dequantizedWeight(emit, node, w.value.name, w.tensor, axis, 'int8', { symmetric });
    return {
      value: r.value,
      action: perChannel ? `int8 weight per-channel (axis ${w.outAxis})${symmetric ? ' symmetric' : ''}` : 'int8 weight per-tensor',
      bytesAfter: r.bytesAfter,
      maxAbsError: r.maxAbsError,
    };
  });
}
