import { McError, Tensor, toFloat32, samePads as onnxSamePads } from '@mc/ir';

/**
 * Transposes a float tensor: `out.dims[i] = t.dims[perm[i]]`. Used once per weight at import (Keras HWIO → ONNX OIHW)
 * and once at export.
 * @internal
 */
export function permute(t: Tensor, perm: readonly number[]): Tensor<'float32'> {
  const src = toFloat32(t);
  const dims = t.dims;
  const rank = dims.length;
  if (perm.length !== rank) throw new McError('E_INVARIANT', `permute of a rank-${rank} tensor with perm [${perm.join(',')}]`);
  const outDims = perm.map((p) => dims[p]!);
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= dims[i]!;
  }
  const strides = perm.map((p) => inStrides[p]!);
  const out = new Float32Array(src.length);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = src[off]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += strides[d]!;
      if (idx[d]! < outDims[d]!) break;
      off -= strides[d]! * outDims[d]!;
      idx[d] = 0;
    }
  }
  // A per-tensor TF.js quantization spec stays valid under a permutation (same values, same codes).
  const q = (t.info.extra as { tfjsQuantization?: unknown } | undefined)?.tfjsQuantization;
  return new Tensor('float32', outDims, out, q === undefined ? {} : { extra: { tfjsQuantization: q } });
}

/** A float32 tensor filled with `v`. @internal */
export function filled(dims: readonly number[], v: number): Tensor<'float32'> {
  return new Tensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(v));
}

/** Numbers from an int or number-list config field (`3` → `[3, 3]` for rank 2). @internal */
export function tuple(v: unknown, n: number, dflt: number): number[] {
  if (v === undefined || v === null) return new Array<number>(n).fill(dflt);
  if (typeof v === 'number') return new Array<number>(n).fill(v);
  if (Array.isArray(v)) return v.length === 1 && n > 1 ? new Array<number>(n).fill(Number(v[0])) : v.map(Number);
  return new Array<number>(n).fill(dflt);
}

/**
 * TF/Keras 'same' padding for one spatial dim: out = ceil(in / s), total = max((out-1)s + (k-1)d + 1 - in, 0), the
 * extra pixel at the end (ONNX SAME_UPPER). Returns undefined pads when `inDim` is unknown.
 * @internal
 */
export function samePads(
  inDim: number | null,
  k: number,
  s: number,
  d: number,
): { begin: number; end: number; out: number | null } | undefined {
  return inDim === null ? undefined : onnxSamePads(inDim, k, s, d, 'SAME_UPPER');
}

/** Output size of a 'valid' window. @internal */
export function validOut(inDim: number | null, k: number, s: number, d: number): number | null {
  return inDim === null ? null : Math.floor((inDim - (k - 1) * d - 1) / s) + 1;
}
