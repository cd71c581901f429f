/**
 * MatMul with a constant B and Gemm: y = x·W becomes y = (x·A)·B with W ≈ A·B, A = U_k·√Σ_k, B = √Σ_k·V_kᵀ
 * (the split keeps both factors at the same scale, as keras_compressor does).
 * Gemm (https://onnx.ai/onnx/operators/onnx__Gemm.html) computes alpha·op(A)·op(B) + beta·C: the first factor
 * becomes a MatMul (or a Gemm when transA = 1), the second a Gemm that keeps alpha, beta, C and transB.
 */
import { attr, attrOf, type Graph, Node, slotOf } from '@mc/ir';
import { transpose } from '../kernels/matmul.js';
import { addFactor, constWeight, intermediate, replaceWithChain } from './common.js';
import type { DenseFactors, DenseLayer, Inspection, Rule, RuleContext } from './types.js';
import { makeTensor, readWeight } from './weights.js';

function inspectDense(node: Node, ctx: RuleContext): Inspection {
  const ref = constWeight(node, 'B', ctx);
  if ('skip' in ref) return ref;
  const t = ref.tensor;
  if (t.dims.length !== 2) return { skip: `weight has rank ${t.dims.length}; only 2-D weights are factorised` };
  const read = readWeight(t);
  if (read === undefined) return { skip: `weight dtype ${t.dtype} is not float32/float64` };
  const [d0, d1] = t.dims as [number, number];
  const transB = node.opType === 'Gemm' && attrOf(node, 'transB') === 1;
  const w = transB ? transpose(read.w, d0, d1) : read.w;
  const [rows, cols] = transB ? [d1, d0] : [d0, d1];
  const layer: DenseLayer = { kind: 'dense', node, rows, cols, w, dtype: read.dtype, shape: [d0, d1], weight: ref.value };
  return { layer };
}

function rewriteDense(graph: Graph, layer: DenseLayer, f: DenseFactors, ctx: RuleContext): void {
  const { node, rows, cols, dtype } = layer;
  const k = f.k;
  const base = layer.weight.name;
  const x = slotOf(node, 'A')!;
  const h = intermediate(graph, `${node.outputs[0]!.name}_lowrank`, dtype);
  const out = intermediate(graph, `${node.outputs[0]!.name}_lowrank_out`, dtype);
  const chain: Node[] = [];
  const isGemm = node.opType === 'Gemm';
  const transA = isGemm && attrOf(node, 'transA') === 1;
  const transB = isGemm && attrOf(node, 'transB') === 1;
  // A [r, c] factor, stored transposed when the Gemm reads its weight transposed.
  const factor = (suffix: string, t: Float64Array, r: number, c: number) =>
    addFactor(graph, base, suffix, transB ? makeTensor(dtype, [c, r], transpose(t, r, c)) : makeTensor(dtype, [r, c], t), ctx);
  const aVal = factor('lowrank_a', f.a, rows, k);
  const bVal = factor('lowrank_b', f.b, k, cols);
  if (!transA && !transB) {
    chain.push(
      new Node({ opType: 'MatMul', name: graph.uniqueName(`${node.name || 'matmul'}_lowrank_a`), inputs: [x, aVal], outputs: [h] }),
    );
  } else {
    // Gemm-7..10 require C; a zero scalar broadcasts (unidirectional) and costs one weight.
    const c = ctx.opset < 11 ? [addFactor(graph, base, 'lowrank_zero', makeTensor(dtype, [1], new Float64Array(1)), ctx)] : [];
    chain.push(
      new Node({
        opType: 'Gemm',
        name: graph.uniqueName(`${node.name || 'gemm'}_lowrank_a`),
        inputs: [x, aVal, ...c],
        outputs: [h],
        attributes: { transA: attr.int(transA ? 1 : 0), transB: attr.int(transB ? 1 : 0) },
      }),
    );
  }
  if (isGemm) {
    const cIn = slotOf(node, 'C');
    const attributes = new Map(node.attributes);
    attributes.delete('transA');
    chain.push(
      new Node({
        opType: 'Gemm',
        name: graph.uniqueName(`${node.name || 'gemm'}_lowrank_b`),
        inputs: cIn === undefined ? [h, bVal] : [h, bVal, cIn],
        outputs: [out],
        attributes,
      }),
    );
  } else {
    chain.push(
      new Node({ opType: 'MatMul', name: graph.uniqueName(`${node.name || 'matmul'}_lowrank_b`), inputs: [h, bVal], outputs: [out] }),
    );
  }
  replaceWithChain(graph, node, chain, layer.weight);
}

/** @internal */
export const denseRule: Rule = {
  inspect: inspectDense,
  rewrite: (g, l, f, ctx) => rewriteDense(g, l as DenseLayer, f as DenseFactors, ctx),
};
