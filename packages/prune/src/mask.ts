import type { Model, Tensor, Value } from '@mc/ir';
import type { SparseIndices, SparseStorage } from './options.js';

/**
 * What magnitude pruning records on a pruned weight: the 0/1 mask (1 = kept) and the storage asked for when the
 * model is written. It lives in the tensor's `info.extra` under this key: tensors are immutable and shared by
 * `model.clone()`, so the record follows the weight through every copy, and `@mc/io-onnx` writes only the `extra`
 * keys it knows, so it never reaches a file. A technique that makes a new tensor (fine-tuning, low rank, quantize)
 * drops it; `restoreMasks` puts it back where the zeros survived.
 */
const KEY = 'mc.prune';

/** The prune record of one weight. @internal */
export interface PruneMark {
  /** 1 = kept, 0 = pruned (held at zero), one per element. */
  readonly mask: Uint8Array;
  /** Storage asked for at write time. */
  readonly storage: SparseStorage;
  readonly codebook?: number;
  readonly sparseIndices: SparseIndices;
}

/** The prune record of a tensor, if it has one. @internal */
export function markOf(t: Tensor | undefined): PruneMark | undefined {
  const m = (t?.info.extra as Record<string, unknown> | undefined)?.[KEY] as PruneMark | undefined;
  return m !== undefined && t !== undefined && m.mask.length === t.size ? m : undefined;
}

/** The same tensor (data shared) with a prune record. @internal */
export function withMark<T extends Tensor>(t: T, mark: PruneMark): T {
  return t.withInfo({ ...t.info, extra: { ...t.info.extra, [KEY]: mark } }) as T;
}

/** The mask of a pruned dense array: 1 where the value is nonzero. @internal */
export function maskFromZeros(data: ArrayLike<number>): Uint8Array {
  const m = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) m[i] = data[i] !== 0 ? 1 : 0;
  return m;
}

/** Initializers of `model` that carry a prune record, by name. @internal */
export function markedWeights(model: Model): Map<string, { value: Value; tensor: Tensor; mark: PruneMark }> {
  const out = new Map<string, { value: Value; tensor: Tensor; mark: PruneMark }>();
  for (const [name, v] of model.graph.initializers) {
    const mark = markOf(v.constValue);
    if (mark !== undefined) out.set(name, { value: v, tensor: v.constValue!, mark });
  }
  return out;
}

/**
 * The pruning masks a model carries (1 = kept, 0 = held at zero), by initializer name: the weights `prune` zeroed in
 * magnitude mode that are still plain float32 initializers. Pass them to fine-tuning (`masks`) to keep the zeros.
 *
 * @example
 * ```ts
 * const { model: sparse } = await prune(model, { mode: 'magnitude', sparsity: 0.9 });
 * const masks = pruneMasks(sparse); // Map { 'fc1.weight' => Uint8Array [...] , ... }
 * await finetune(sparse, data, { masks: Object.fromEntries(masks) });
 * ```
 */
export function pruneMasks(model: Model): Map<string, Uint8Array> {
  return new Map([...markedWeights(model)].map(([k, w]) => [k, w.mark.mask]));
}
