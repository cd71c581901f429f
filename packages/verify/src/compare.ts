import { McError, type Tensor, toFloat32 } from '@mc/ir';

/** How close one output is to its reference. */
export interface OutputComparison {
  /** Element count compared. */
  count: number;
  /** max |a - b| (Infinity where a NaN/Inf pattern differs). */
  maxAbs: number;
  /** max |a - b| / |a| over reference elements with |a| >= 1e-6. */
  maxRel: number;
  /** Cosine similarity of the flattened outputs (1 when both are all zero). */
  cosine: number;
  /** Fraction of rows (last axis) whose argmax agrees; undefined for outputs with a last axis of size < 2. */
  top1: number | undefined;
  /** True when dims, dtype and every stored byte are equal. */
  bitwise: boolean;
}

function bytesEqual(a: Tensor, b: Tensor): boolean {
  if (a.dtype !== b.dtype || a.dims.length !== b.dims.length || a.dims.some((d, i) => d !== b.dims[i])) return false;
  if (a.dtype === 'string') {
    const x = a.data as Uint8Array[];
    const y = b.data as Uint8Array[];
    return x.length === y.length && x.every((s, i) => Buffer.compare(s, y[i]!) === 0);
  }
  const x = a.data as unknown as ArrayBufferView;
  const y = b.data as unknown as ArrayBufferView;
  return Buffer.compare(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), new Uint8Array(y.buffer, y.byteOffset, y.byteLength)) === 0;
}

function numbers(t: Tensor): Float64Array {
  if (t.dtype === 'float64') return t.data as Float64Array;
  if (t.dtype === 'int64' || t.dtype === 'uint64') return Float64Array.from(t.data as BigInt64Array, Number);
  return Float64Array.from(toFloat32(t));
}

/**
 * Compares one tensor with a reference `ref` (the original model's output).
 *
 * @example
 * ```ts
 * compareTensor(ref, out).maxAbs; // 3.1e-7
 * ```
 */
export function compareTensor(ref: Tensor, out: Tensor): OutputComparison {
  const bitwise = bytesEqual(ref, out);
  if (ref.size !== out.size) {
    return { count: ref.size, maxAbs: Infinity, maxRel: Infinity, cosine: 0, top1: 0, bitwise: false };
  }
  if (ref.dtype === 'string' || out.dtype === 'string') {
    return {
      count: ref.size,
      maxAbs: bitwise ? 0 : Infinity,
      maxRel: bitwise ? 0 : Infinity,
      cosine: bitwise ? 1 : 0,
      top1: undefined,
      bitwise,
    };
  }
  const a = numbers(ref);
  const b = numbers(out);
  let maxAbs = 0;
  let maxRel = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    let d: number;
    if (Number.isNaN(x) || Number.isNaN(y)) d = Number.isNaN(x) && Number.isNaN(y) ? 0 : Infinity;
    else if (x === y)
      d = 0; // also equal infinities
    else d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    if (Math.abs(x) >= 1e-6 && d / Math.abs(x) > maxRel) maxRel = d / Math.abs(x);
    if (Number.isFinite(x) && Number.isFinite(y)) {
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
  }
  const cosine = na === 0 && nb === 0 ? 1 : na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
  const last = ref.dims[ref.dims.length - 1] ?? 0;
  let top1: number | undefined;
  if (last >= 2) {
    const rows = a.length / last;
    let agree = 0;
    for (let r = 0; r < rows; r++) if (argmax(a, r * last, last) === argmax(b, r * last, last)) agree++;
    top1 = rows === 0 ? 1 : agree / rows;
  }
  return { count: a.length, maxAbs, maxRel, cosine, top1, bitwise };
}

function argmax(v: Float64Array, off: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (v[off + i]! > v[off + best]!) best = i;
  return best;
}

/**
 * Compares two sets of outputs by name (`a` is the reference). Every output of `a` must be in `b`.
 *
 * @example
 * ```ts
 * const cmp = compareOutputs(await runModel(orig, feeds), await runModel(out, feeds));
 * cmp['logits']!.cosine; // 0.99998
 * ```
 */
export function compareOutputs(a: Record<string, Tensor>, b: Record<string, Tensor>): Record<string, OutputComparison> {
  const res: Record<string, OutputComparison> = {};
  for (const [name, t] of Object.entries(a)) {
    const u = b[name];
    if (u === undefined) {
      throw new McError(
        'E_VERIFY',
        `output '${name}' of the reference model is missing from the compared model; keep the graph outputs' names`,
      );
    }
    res[name] = compareTensor(t, u);
  }
  return res;
}
