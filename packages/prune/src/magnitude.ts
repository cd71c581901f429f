import { biasOf, McError, type McWarning, type Model, type Node, Tensor, type Value, weightOf } from '@mc/ir';
import { codeTensors } from './codebook.js';
import { emitCodebookStream } from './codebook-decoder.js';
import { countZeros, nmPrune, zeroSmallest } from './kernels/magnitude.js';
import type { MagnitudePlan } from './options.js';
import type { PassedThrough, WeightReport } from './report.js';
import { chooseStorage, emitPacked, indexTypeFor, packedBytes, toPacked, toSparse } from './storage.js';

interface Candidate {
  node: Node;
  value: Value;
  tensor: Tensor;
  data: Float32Array;
  inAxis: number;
}

/** Result of the magnitude pass. @internal */
export interface MagnitudeOutcome {
  weights: WeightReport[];
  achieved: number;
  nothingToPrune?: string;
}

function collect(model: Model, plan: MagnitudePlan, exclude: ReadonlySet<string>, passedThrough: PassedThrough[]): Candidate[] {
  const out: Candidate[] = [];
  const seen = new Set<Value>();
  for (const node of model.graph.nodes) {
    const w = weightOf(node);
    if (w === undefined) continue;
    const skip = (reason: string): void => {
      passedThrough.push({ node: node.name, opType: node.opType, reason });
    };
    if (seen.has(w.value)) continue;
    if (exclude.has(node.name)) skip('excluded');
    else if (w.tensor === undefined || !w.value.isInitializer()) skip(`weight '${w.value.name}' is not a constant initializer`);
    else if (w.tensor.dtype !== 'float32') skip(`weight '${w.value.name}' is ${w.tensor.dtype}; only float32 weights are pruned (prune before quantizing)`);
    else if (w.value.isGraphInput() && model.irVersion >= 4) skip(`weight '${w.value.name}' is also a graph input and may be overridden at run time`);
    else if (w.tensor.size < plan.minElements) skip(`weight has ${w.tensor.size} < ${plan.minElements} elements`);
    else {
      seen.add(w.value);
      const data = w.tensor.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          throw new McError('E_NUMERIC', `weight '${w.value.name}' of ${node.opType} '${node.name}' holds ${data[i]} at element ${i}; magnitudes of non-finite weights are meaningless, fix the model`, {
            context: { node: node.name, opType: node.opType },
          });
        }
      }
      out.push({ node, value: w.value, tensor: w.tensor, data, inAxis: w.inAxis });
    }
  }
  return out;
}

/**
 * sparse_initializer exists from IR 6 on (https://github.com/onnx/onnx/blob/main/docs/Versioning.md); an older model
 * is written as IR 7, and an initializer listed among the graph inputs (IR < 4 style) leaves the inputs.
 */
function legacy(model: Model, v: Value, warnings: McWarning[]): void {
  const at = model.graph.inputs.indexOf(v);
  if (at >= 0) model.graph.inputs.splice(at, 1);
  if (model.irVersion < 6) {
    warnings.push({ code: 'W_COMPAT', message: `the model is IR ${model.irVersion}; written as IR 7 because sparse_initializer needs IR ≥ 6` });
    model.irVersion = 7;
  }
}

/**
 * Unstructured magnitude pruning on `model` in place: zeroes weights and rewrites them in the chosen storage.
 * @internal
 */
export function pruneMagnitude(model: Model, plan: MagnitudePlan, exclude: ReadonlySet<string>, passedThrough: PassedThrough[], warnings: McWarning[]): MagnitudeOutcome {
  const cands = collect(model, plan, exclude, passedThrough);
  if (cands.length === 0) {
    return { weights: [], achieved: 0, nothingToPrune: 'nothing to prune: the model has no float32 Conv, ConvTranspose, Gemm or MatMul weight that is a constant initializer' };
  }
  let pruned: Float32Array[];
  const thresholds: number[] = [];
  if (plan.nm !== undefined) {
    const [n, m] = plan.nm;
    pruned = cands.map((c) => nmPrune(c.data, c.tensor.dims, c.inAxis, n, m));
    for (const p of pruned) thresholds.push(NaN);
  } else if (plan.scope === 'global') {
    const total = cands.reduce((s, c) => s + c.data.length, 0);
    const r = zeroSmallest(cands.map((c) => c.data), Math.floor(plan.sparsity * total));
    pruned = r.out;
    for (const _ of pruned) thresholds.push(r.threshold);
  } else {
    pruned = cands.map((c) => {
      const r = zeroSmallest([c.data], Math.floor(plan.sparsity * c.data.length));
      thresholds.push(r.threshold);
      return r.out[0]!;
    });
  }
  const packedOk = (model.opset('') ?? 13) >= 11;
  if (plan.codebook !== undefined && !packedOk) {
    warnings.push({ code: 'W_COMPAT', message: `codebook storage needs opset ≥ 11 (CumSum, ScatterElements, BitShift); the model declares opset ${model.opset('')}, so weights are stored without a codebook (sparse_initializer); convert the model to opset ≥ 11 first` });
  }
  const weights: WeightReport[] = [];
  const coded: { value: Value; dims: number[]; data: Float32Array; report: number }[] = [];
  let zerosAll = 0;
  let sizeAll = 0;
  for (const [i, c] of cands.entries()) {
    const data = pruned[i]!;
    const dims = [...c.tensor.dims];
    const zeros = countZeros(data);
    zerosAll += zeros;
    sizeAll += data.length;
    const packed = toPacked(data);
    const pBytes = packedBytes(packed, dims.length);
    const storage = chooseStorage(plan.storage, data.length, data.length - zeros, pBytes, packedOk);
    let bytesAfter = data.length * 4;
    let indexType: WeightReport['indexType'];
    if (plan.codebook !== undefined && packedOk) {
      coded.push({ value: c.value, dims, data, report: weights.length });
      weights.push({ node: c.node.name, opType: c.node.opType, weight: c.value.name, dims, elements: data.length, zeros, sparsity: zeros / data.length, threshold: thresholds[i]!, storage: 'packed', bytesBefore: c.tensor.byteLength, bytesAfter });
      continue;
    }
    if (storage === 'dense') {
      c.value.constValue = new Tensor('float32', dims, data, c.tensor.info);
    } else if (storage === 'sparse') {
      const sparse = toSparse(data, dims);
      legacy(model, c.value, warnings);
      model.graph.initializers.delete(c.value.name);
      c.value.constValue = undefined;
      model.graph.setSparseInitializer(c.value, sparse);
      indexType = indexTypeFor(data.length);
      bytesAfter = sparse.values.byteLength + sparse.indices.byteLength;
    } else {
      emitPacked(model.graph, c.value, dims, packed);
      bytesAfter = pBytes;
    }
    weights.push({
      node: c.node.name,
      opType: c.node.opType,
      weight: c.value.name,
      dims,
      elements: data.length,
      zeros,
      sparsity: zeros / data.length,
      threshold: thresholds[i]!,
      storage,
      ...(indexType !== undefined && { indexType }),
      bytesBefore: c.tensor.byteLength,
      bytesAfter,
    });
  }
  if (plan.codebook !== undefined && coded.length > 0) codebookStream(model, cands, coded, weights, plan.codebook);
  model.graph.touch();
  return { weights, achieved: sizeAll === 0 ? 0 : zerosAll / sizeAll };
}

/**
 * Writes the codebook-coded weights, and the float32 biases read only by their layers, as one joint stream (see
 * `emitCodebookStream`): each bias gets a k-means codebook of its own (its distinct values when it has ≤ 2^bits).
 */
function codebookStream(model: Model, cands: readonly Candidate[], coded: { value: Value; dims: number[]; data: Float32Array; report: number }[], weights: WeightReport[], bits: number): void {
  const layers = new Set(cands.map((c) => c.node));
  const biases: { value: Value; dims: number[]; data: Float32Array; report: number }[] = [];
  const taken = new Set(coded.map((c) => c.value));
  for (const item of coded) {
    const c = cands.find((x) => x.value === item.value)!;
    const b = biasOf(c.node);
    const t = b?.tensor;
    if (b === undefined || t === undefined || t.dtype !== 'float32' || !b.value.isInitializer() || b.value.isGraphInput() || taken.has(b.value)) continue;
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
      w.codebook!.bias = { name: c.value.name, entries: c.codebook.length, maxAbsError: c.maxAbsError, bytesBefore: c.decoded.length * 4, bytesAfter: c.bytes };
    }
  }
}
