import { McError, type McWarning, type Model, type Node, Tensor, type Value, weightOf } from '@mc/ir';
import { countZeros, nmPrune, zeroSmallest } from './kernels/magnitude.js';
import { maskFromZeros, withMark } from './mask.js';
import type { MagnitudePlan } from './options.js';
import type { PassedThrough, WeightReport } from './report.js';
import { chooseStorage, packedBytes, sparseBytes, sparseIndexType, toPacked } from './storage.js';

interface Candidate {
  node: Node;
  value: Value;
  tensor: Tensor;
  data: Float32Array;
  dims: readonly number[];
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
    const src = w.tensor === undefined ? undefined : { value: w.value, tensor: w.tensor, dims: [...w.tensor.dims] };
    if (seen.has(src?.value ?? w.value)) continue;
    if (exclude.has(node.name)) skip('excluded');
    else if (src === undefined || !src.value.isInitializer()) skip(`weight '${w.value.name}' is not a constant initializer`);
    else if (src.tensor.dtype !== 'float32')
      skip(`weight '${src.value.name}' is ${src.tensor.dtype}; only float32 weights are pruned (prune before quantizing)`);
    else if (src.value.isGraphInput() && model.irVersion >= 4)
      skip(`weight '${src.value.name}' is also a graph input and may be overridden at run time`);
    else if (src.tensor.size < plan.minElements) skip(`weight has ${src.tensor.size} < ${plan.minElements} elements`);
    else {
      seen.add(src.value);
      const data = src.tensor.data as Float32Array;
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i]!)) {
          throw new McError(
            'E_NUMERIC',
            `weight '${src.value.name}' of ${node.opType} '${node.name}' holds ${data[i]} at element ${i}; magnitudes of non-finite weights are meaningless, fix the model`,
            {
              context: { node: node.name, opType: node.opType },
            },
          );
        }
      }
      out.push({ node, value: src.value, tensor: src.tensor, data, dims: src.dims, inAxis: w.inAxis });
    }
  }
  return out;
}

/**
 * Unstructured magnitude pruning on `model` in place: zeroes weights, which stay dense initializers with their masks.
 * @internal
 */
export function pruneMagnitude(
  model: Model,
  plan: MagnitudePlan,
  exclude: ReadonlySet<string>,
  passedThrough: PassedThrough[],
  warnings: McWarning[],
): MagnitudeOutcome {
  const cands = collect(model, plan, exclude, passedThrough);
  if (cands.length === 0) {
    return {
      weights: [],
      achieved: 0,
      nothingToPrune:
        'nothing to prune: the model has no float32 Conv, ConvTranspose, Gemm or MatMul weight that is a constant initializer',
    };
  }
  let pruned: Float32Array[];
  const thresholds: number[] = [];
  if (plan.nm !== undefined) {
    const [n, m] = plan.nm;
    pruned = cands.map((c) => nmPrune(c.data, c.dims, c.inAxis, n, m));
    thresholds.push(...pruned.map(() => NaN));
  } else if (plan.scope === 'global') {
    const total = cands.reduce((s, c) => s + c.data.length, 0);
    const r = zeroSmallest(
      cands.map((c) => c.data),
      Math.floor(plan.sparsity * total),
    );
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
    warnings.push({
      code: 'W_COMPAT',
      message: `codebook storage needs opset ≥ 11 (CumSum, ScatterElements, BitShift); the model declares opset ${model.opset('')}, so weights are stored without a codebook (sparse_initializer); convert the model to opset ≥ 11 first`,
    });
  }
  const weights: WeightReport[] = [];
  let zerosAll = 0;
  let sizeAll = 0;
  for (const [i, c] of cands.entries()) {
    const data = pruned[i]!;
    const dims = [...c.tensor.dims];
    const zeros = countZeros(data);
    zerosAll += zeros;
    sizeAll += data.length;
    // The weight stays a dense float32 initializer (every later technique can read it) and carries its mask and the
    // storage asked for; `storePruned` applies that storage when the model is written.
    const mark = {
      mask: maskFromZeros(data),
      storage: plan.storage,
      sparseIndices: plan.sparseIndices,
      ...(plan.codebook !== undefined && { codebook: plan.codebook }),
    };
    c.value.constValue = withMark(new Tensor('float32', dims, data, c.tensor.info), mark);
    // What the write will choose (the codebook's size is known only once the stream is coded: `storePruned` reports it).
    const nnz = data.length - zeros;
    const pBytes =
      plan.codebook !== undefined || plan.storage === 'packed' || plan.storage === 'auto' ? packedBytes(toPacked(data), dims.length) : 0;
    const storage =
      plan.codebook !== undefined && packedOk
        ? 'packed'
        : chooseStorage(plan.storage, data.length, nnz, pBytes, packedOk, plan.sparseIndices);
    const indexType = storage === 'sparse' ? sparseIndexType(data.length, plan.sparseIndices) : undefined;
    const bytesAfter =
      storage === 'dense' ? data.length * 4 : storage === 'sparse' ? sparseBytes(nnz, data.length, plan.sparseIndices) : pBytes;
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
  model.graph.touch();
  return { weights, achieved: sizeAll === 0 ? 0 : zerosAll / sizeAll };
}
