import { McError, Tensor } from '@mc/ir';

type Indexable = { length: number; [i: number]: unknown };

/**
 * A new tensor holding only the slices `keep` (sorted indices) along `axis` (numpy `take`). The input is not changed.
 * @internal
 */
export function takeAlong(t: Tensor, axis: number, keep: readonly number[]): Tensor {
  const dims = t.dims;
  if (t.dtype === 'string' || t.dtype.endsWith('4') || t.dtype === 'uint2' || t.dtype === 'int2' || t.dtype === 'float4e2m1') {
    throw new McError('E_UNSUPPORTED', `cannot slice a ${t.dtype} tensor along channels; convert it to float32 before pruning`);
  }
  let inner = 1;
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
  const len = dims[axis]!;
  const outer = t.size / (len * inner);
  const src = t.data as unknown as Indexable & { constructor: new (n: number) => Indexable };
  // complex types store two numbers per element
  const per = t.dtype === 'complex64' || t.dtype === 'complex128' ? 2 : 1;
  const dst = new src.constructor(outer * keep.length * inner * per);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const k of keep) {
      const from = (a * len + k) * inner * per;
      for (let i = 0; i < inner * per; i++) dst[o++] = src[from + i];
    }
  }
  const nd = [...dims];
  nd[axis] = keep.length;
  return new Tensor(t.dtype, nd, dst as never, t.info);
}

/** Expands kept positions of a channel map into element indices: position i covers [i·block, (i+1)·block). @internal */
export function expandBlocks(keepPositions: readonly number[], block: number): number[] {
  if (block === 1) return [...keepPositions];
  const out: number[] = [];
  for (const p of keepPositions) for (let j = 0; j < block; j++) out.push(p * block + j);
  return out;
}
