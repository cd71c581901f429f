import {
  type DType,
  type Graph,
  McError,
  type Model,
  type Node,
  Tensor,
  type Value,
  attr,
  inferShapes,
  reshapeDims,
  slotOf,
  attrOf,
  biasOf,
} from '@mc/ir';
import type { Emitter } from './emit.js';
import type { ModeSpec } from './mode-table.js';

const ONNX_TYPE: Partial<Record<DType, number>> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, float16: 10, bfloat16: 16 };

/** ONNX TensorProto.DataType number of a dtype (for Cast's `to`). @internal */
export function onnxType(dt: DType): number {
  const n = ONNX_TYPE[dt];
  if (n === undefined) throw new McError('E_INVARIANT', `no ONNX type number for ${dt}`);
  return n;
}

const ONNX_TO_DTYPE: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

/**
 * Element type of every value: what the model declares, then onnx shape inference of `@mc/ir`, then simple rules for
 * ops it does not register (Cast's `to`, Shape/Size int64, else the first input's type).
 * @internal
 */
export function valueDTypes(model: Model): Map<Value, DType | undefined> {
  inferShapes(model);
  const out = new Map<Value, DType | undefined>();
  const g = model.graph;
  for (const v of g.inputs) out.set(v, v.dtype);
  for (const v of g.initializers.values()) out.set(v, v.dtype ?? v.constValue?.dtype);
  for (const n of g.nodes) {
    n.outputs.forEach((o, i) => {
      let dt = o.dtype;
      if (n.domain === '' && n.opType === 'Cast') dt = ONNX_TO_DTYPE[n.attrInt('to', 1)!] ?? dt;
      else if (dt === undefined) {
        if (
          n.domain === '' &&
          (n.opType === 'Shape' || n.opType === 'Size' || n.opType === 'NonZero' || n.opType === 'ArgMax' || n.opType === 'ArgMin')
        )
          dt = 'int64';
        else if (n.domain === '' && n.opType === 'Constant') {
          const a = n.attr('value');
          dt = a?.type === 'TENSOR' ? a.value.dtype : undefined;
        } else if (i === 0) {
          const first = n.inputs.find((x) => x !== undefined);
          dt = first === undefined ? undefined : (out.get(first) ?? first.dtype ?? first.constValue?.dtype);
        }
      }
      out.set(o, dt);
    });
  }
  return out;
}

/** True when the node is excluded by name or op type. @internal */
export function isExcluded(node: Node, exclude: readonly string[] | undefined): boolean {
  return exclude !== undefined && (exclude.includes(node.name) || exclude.includes(node.opType));
}

/** Ops that mean the model is already quantized. */
const QUANTIZED_OPS = new Set([
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
  'MatMulInteger',
  'ConvInteger',
  'QLinearConv',
  'QLinearMatMul',
  'MatMulNBits',
  'MatMulBnb4',
  'QGemm',
  'DynamicQuantizeMatMul',
  'QLinearAdd',
  'GatherBlockQuantized',
]);

/**
 * Throws E_UNSUPPORTED when the model already holds quantization ops (or float16 weights for fp16 mode).
 * @internal
 */
export function assertNotQuantized(model: Model, mode: string, spec: Pick<ModeSpec<never>, 'refusesHalfWeights' | 'int4Hint'>): void {
  for (const n of model.graph.nodes) {
    if (QUANTIZED_OPS.has(n.opType)) {
      throw new McError(
        'E_UNSUPPORTED',
        `the model is already quantized: node '${n.name}' is ${n.opType}; quantize the original float model instead (mode ${mode})${
          spec.int4Hint !== undefined && (n.opType === 'MatMulNBits' || n.opType === 'GatherBlockQuantized') ? spec.int4Hint : ''
        }`,
        { context: { node: n.name, opType: n.opType } },
      );
    }
  }
  if (spec.refusesHalfWeights) {
    for (const v of model.graph.initializers.values()) {
      const dt = v.constValue?.dtype;
      if (dt === 'float16' || dt === 'bfloat16') {
        throw new McError(
          'E_UNSUPPORTED',
          `the model already has ${dt} weights (initializer '${v.name}'); convert the float32 model instead`,
          {
            context: { node: v.name },
          },
        );
      }
    }
  }
}

/** Attribute helpers re-exported for modes. @internal */
export { attr };

/** Total bytes of a tensor list. @internal */
export function bytesOf(...ts: (Tensor | undefined)[]): number {
  return ts.reduce((a, t) => a + (t === undefined ? 0 : t.byteLength), 0);
}

/** Replaces input `index` of `node` and drops the old initializer when nothing uses it. @internal */
export function swapInput(g: Graph, node: Node, index: number, v: Value): void {
  const old = node.inputs[index];
  node.replaceInput(index, v);
  if (old !== undefined && old.isInitializer() && old.uses().length === 0 && !g.outputs.includes(old)) g.removeInitializer(old.name);
}

/**
 * Folds Reshape(initializer, constant shape) into a reshaped initializer, so a weight stored in another layout (the
 * CNTK MNIST model keeps its dense weight as [16, 4, 4, 10] and reshapes it to [256, 10] in the graph) is seen as the
 * layer's constant weight. The data is shared, not copied.
 * @internal
 */
export function foldConstantReshapes(model: Model, emit: Emitter): number {
  const g = model.graph;
  let n = 0;
  for (const node of [...g.nodes]) {
    if (node.opType !== 'Reshape' || node.domain !== '') continue;
    const data = slotOf(node, 'data');
    const shape = slotOf(node, 'shape');
    const t = data?.constValue;
    const s = shape?.constValue;
    if (t === undefined || s === undefined || !data!.isInitializer() || (s.dtype !== 'int64' && s.dtype !== 'int32')) continue;
    const out = node.outputs[0]!;
    if (out.isGraphOutput()) continue;
    const want = Array.from(s.data as BigInt64Array | Int32Array, Number);
    if (want.includes(0) && attrOf(node, 'allowzero') === 1) continue;
    const dims = reshapeDims(t.dims, want);
    if (dims === undefined) continue;
    const folded = new Tensor(t.dtype, dims, t.isLazy ? () => t.data : t.data);
    // A weight read only by this Reshape keeps its name (the reshaped tensor is the weight the layer uses).
    const own = data!.uses().length === 1 && !data!.isGraphInput() && !g.outputs.includes(data!);
    if (own) {
      node.replaceInput(0, undefined);
      g.removeInitializer(data!.name);
    }
    const v = own ? g.addInitializer(data!.name, folded, { exactName: true }) : emit.init(out.name || `${data!.name}_reshaped`, folded);
    out.replaceAllUsesWith(v);
    g.remove(node);
    for (const x of [data!, shape!])
      if (x !== v && x.isInitializer() && x.uses().length === 0 && !g.outputs.includes(x)) g.removeInitializer(x.name);
    n++;
  }
  return n;
}

/**
 * Replaces a MatMul/Gemm by a com.microsoft weight-quantized MatMul (MatMulNBits, MatMulBnb4) reading `a` and the
 * packed weight inputs; a Gemm's bias follows as an Add (neither op takes one here). The old node goes.
 * @internal
 */
export function replaceByContribMatMul(
  model: Model,
  emit: Emitter,
  node: Node,
  opType: 'MatMulNBits' | 'MatMulBnb4',
  inputs: readonly Value[],
  attrs: Record<string, ReturnType<typeof attr.int>>,
): void {
  if (!model.opsetImports.has('com.microsoft')) model.opsetImports.set('com.microsoft', 1);
  const [y] = emit.node(node, opType, [...inputs], {
    domain: 'com.microsoft',
    name: `${node.name || 'MatMul'}_${opType === 'MatMulNBits' ? 'MatMulNBits' : 'Bnb4'}`,
    attrs,
    dtypes: ['float32'],
  });
  let out = y!;
  const bias = node.opType === 'Gemm' ? biasOf(node)?.value : undefined;
  if (bias !== undefined) [out] = emit.node(node, 'Add', [y!, bias], { name: `${node.name}_bias`, dtypes: ['float32'] });
  out.shape = node.outputs[0]!.shape;
  node.outputs[0]!.replaceAllUsesWith(out, { graphOutputs: true });
  model.graph.remove(node);
}
