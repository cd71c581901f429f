import { biasOf, type McWarning, type Model, type Node, Tensor, type Value } from '@mc/ir';
import { codeTensors } from './codebook.js';
import { emitCodebookStream } from './codebook-decoder.js';
import { countZeros } from './kernels/magnitude.js';
import { markedWeights, type PruneMark } from './mask.js';
import type { SparseIndices, SparseStorage } from './options.js';
import type { WeightReport } from './report.js';
import { chooseStorage, emitPacked, packedBytes, sparseIndexType, toPacked, toSparse } from './storage.js';

/** Options of {@link storePruned}; each one overrides what `prune` recorded on the weights. */
export interface StoreOptions {
  storage?: SparseStorage;
  /** Codebook bits (with 'packed' or 'auto' storage); `null` drops a codebook `prune` recorded. */
  codebook?: number | null;
  sparseIndices?: SparseIndices;
}

/** One weight as written by {@link storePruned}. */
export type StoredWeight = Pick<
  WeightReport,
  | 'node'
  | 'opType'
  | 'weight'
  | 'dims'
  | 'elements'
  | 'zeros'
  | 'sparsity'
  | 'storage'
  | 'indexType'
  | 'bytesBefore'
  | 'bytesAfter'
  | 'codebook'
>;

/** Report of {@link storePruned}. */
export interface StoreReport {
  weights: StoredWeight[];
  bytesBefore: number;
  bytesAfter: number;
  warnings: McWarning[];
}

interface Item {
  node: Node;
  value: Value;
  data: Float32Array;
  dims: number[];
  mark: PruneMark;
  report: number;
}

/**
 * sparse_initializer exists from IR 6 on (https://github.com/onnx/onnx/blob/main/docs/Versioning.md); an older model
 * is written as IR 7, and an initializer listed among the graph inputs (IR < 4 style) leaves the inputs.
 */
function legacy(model: Model, v: Value, warnings: McWarning[]): void {
  const at = model.graph.inputs.indexOf(v);
  if (at >= 0) model.graph.inputs.splice(at, 1);
  if (model.irVersion < 6) {
    warnings.push({
      code: 'W_COMPAT',
      message: `the model is IR ${model.irVersion}; written as IR 7 because sparse_initializer needs IR ≥ 6`,
    });
    model.irVersion = 7;
  }
}

/**
 * The write-time pass of pruning: every weight `prune` zeroed (a dense float32 initializer carrying its mask) is
 * rewritten in the storage asked for — `sparse_initializer` (int64 indices by default), the packed dense-at-load form,
 * packed + codebook, or left dense — whichever `prune` recorded, or `opts` overrides. The input is not changed. Apply
 * it once, just before saving: the stored forms hide the weights from later techniques, which is why `prune` does not
 * write them itself. Weights whose kept values were changed since (fine-tuning) are stored with their zeros as they
 * are; weights another technique replaced (low rank, quantize) carry no mask and stay as they are.
 *
 * @example
 * ```ts
 * const { model: sparse } = await prune(model, { mode: 'magnitude', sparsity: 0.9 });
 * const { model: tuned } = await finetune(sparse, data, { masks: Object.fromEntries(pruneMasks(sparse)) });
 * const { model: small, report } = storePruned(tuned);
 * await saveOnnx(small, 'small.onnx');
 * ```
 */
export function storePruned(model: Model, opts: StoreOptions = {}): { model: Model; report: StoreReport } {
  const out = model.clone();
  const warnings: McWarning[] = [];
  const weights: StoredWeight[] = [];
  const report: StoreReport = { weights, bytesBefore: 0, bytesAfter: 0, warnings };
  const packedOk = (out.opset('') ?? 13) >= 11;
  const coded: Item[] = [];
  let warned = false;
  for (const [name, w] of markedWeights(out)) {
    const node = w.value.uses()[0]?.node;
    if (node === undefined || (w.value.isGraphInput() && out.irVersion >= 4)) continue;
    if (w.tensor.dtype === 'int8') {
      const r = storeInt8(out, name, w.value, w.tensor, w.mark, node, packedOk, opts.storage ?? w.mark.storage);
      report.bytesBefore += r.bytesBefore;
      weights.push(r);
      continue;
    }
    if (w.tensor.dtype !== 'float32') continue;
    const { data, dims, zeros, base } = masked(node, name, w.tensor, w.mark);
    const storage = opts.storage ?? w.mark.storage;
    const codebook = opts.codebook === null ? undefined : (opts.codebook ?? w.mark.codebook);
    const indices = opts.sparseIndices ?? w.mark.sparseIndices;
    report.bytesBefore += w.tensor.byteLength;
    if (codebook !== undefined && (storage === 'packed' || storage === 'auto')) {
      if (packedOk) {
        coded.push({ node, value: w.value, data, dims, mark: w.mark, report: weights.length });
        weights.push({ ...base, storage: 'packed', bytesAfter: data.length * 4 });
        continue;
      }
      if (!warned)
        warnings.push({
          code: 'W_COMPAT',
          message: `codebook storage needs opset ≥ 11 (CumSum, ScatterElements, BitShift); the model declares opset ${out.opset('')}, so weights are stored without a codebook (sparse_initializer); convert the model to opset ≥ 11 first`,
        });
      warned = true;
    }
    const packed = toPacked(data);
    const pBytes = packedBytes(packed, dims.length);
    const chosen = chooseStorage(storage, data.length, data.length - zeros, pBytes, packedOk, indices);
    let bytesAfter = data.length * 4;
    let indexType: StoredWeight['indexType'];
    if (chosen === 'dense') {
      w.value.constValue = new Tensor('float32', dims, data);
    } else if (chosen === 'sparse') {
      const sparse = toSparse(data, dims, indices);
      legacy(out, w.value, warnings);
      out.graph.initializers.delete(name);
      w.value.constValue = undefined;
      out.graph.setSparseInitializer(w.value, sparse);
      indexType = sparseIndexType(data.length, indices);
      bytesAfter = sparse.values.byteLength + sparse.indices.byteLength;
    } else {
      emitPacked(out.graph, w.value, dims, packed);
      bytesAfter = pBytes;
    }
    weights.push({ ...base, storage: chosen, ...(indexType !== undefined && { indexType }), bytesAfter });
  }
  const bits = coded[0]?.mark.codebook ?? (typeof opts.codebook === 'number' ? opts.codebook : undefined);
  if (coded.length > 0 && bits !== undefined) codebookStream(out, coded, weights, typeof opts.codebook === 'number' ? opts.codebook : bits);
  for (const w of weights) report.bytesAfter += w.bytesAfter;
  out.graph.touch();
  return { model: out, report };
}

/**
 * A pruned weight's values with every masked entry zero (held zeros are zero by construction; an entry a later step
 * wrote into is zeroed here), and the report fields every storage form shares.
 */
function masked(node: Node, name: string, t: Tensor, mark: PruneMark) {
  const data = Float32Array.from(t.data as Float32Array | Int8Array, (x, i) => (mark.mask[i] === 0 ? 0 : x));
  const dims = [...t.dims];
  const zeros = countZeros(data);
  const base = {
    node: node.name,
    opType: node.opType,
    weight: name,
    dims,
    elements: data.length,
    zeros,
    sparsity: zeros / data.length,
    bytesBefore: t.byteLength,
  };
  return { data, dims, zeros, base };
}

/**
 * A pruned weight that was quantized since (int8, zero point 0: its pruned entries are 0): packed as int8 values and
 * uint8 gaps (2 bytes per nonzero) before its DequantizeLinear when that is smaller than 1 byte per weight (sparsity
 * above about 1/2), else dense. sparse_initializer is never smaller here (int8 value + int64 index: 9 bytes).
 */
function storeInt8(
  model: Model,
  name: string,
  v: Value,
  t: Tensor,
  mark: PruneMark,
  node: Node,
  packedOk: boolean,
  storage: SparseStorage,
): StoredWeight {
  const { data, dims, base } = masked(node, name, t, mark);
  const packed = toPacked(data);
  const pBytes = packedBytes(packed, dims.length, 1);
  if (storage !== 'dense' && packedOk && pBytes < t.byteLength) {
    emitPacked(model.graph, v, dims, packed, 'int8');
    return { ...base, storage: 'packed', bytesAfter: pBytes };
  }
  v.constValue = new Tensor('int8', dims, Int8Array.from(data));
  return { ...base, storage: 'dense', bytesAfter: t.byteLength };
}

/**
 * Writes the codebook-coded weights, and the float32 biases read only by their layers, as one joint stream (see
 * `emitCodebookStream`): each bias gets a k-means codebook of its own (its distinct values when it has ≤ 2^bits).
 */
function codebookStream(model: Model, coded: readonly Item[], weights: StoredWeight[], bits: number): void {
  const layers = new Set(coded.map((c) => c.node));
  const biases: { value: Value; dims: number[]; data: Float32Array; report: number }[] = [];
  const taken = new Set(coded.map((c) => c.value));
  for (const item of coded) {
    const b = biasOf(item.node);
    const t = b?.tensor;
    if (
      b === undefined ||
      t === undefined ||
      t.dtype !== 'float32' ||
      !b.value.isInitializer() ||
      b.value.isGraphInput() ||
      taken.has(b.value)
    )
      continue;
    if (!b.value.uses().every((u) => layers.has(u.node)) || !Array.from(t.data as Float32Array).every(Number.isFinite)) continue;
    taken.add(b.value);
    biases.push({ value: b.value, dims: [...t.dims], data: t.data as Float32Array, report: item.report });
  }
  const all = [...coded, ...biases];
  const out = codeTensors(all, bits);
  emitCodebookStream(model.graph, out, bits, model.opset('') ?? 13);
  for (const [k, c] of out.entries()) {
    const w = weights[all[k]!.report]!;
    if (k < coded.length) {
      w.bytesAfter = c.bytes;
      w.codebook = { bits, entries: c.codebook.length, maxAbsError: c.maxAbsError, gapBits: c.gap.bits, swapped: c.swapped };
    } else {
      w.codebook!.bias = {
        name: c.value.name,
        entries: c.codebook.length,
        maxAbsError: c.maxAbsError,
        bytesBefore: c.decoded.length * 4,
        bytesAfter: c.bytes,
      };
    }
  }
}
