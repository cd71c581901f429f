import type { Node } from '../node.js';
import type { Shape } from '../types.js';
import { convOutDim, spatialAttrs } from './conv.js';
import { defineOp, int, numel, type OpInfo, required, type ShapeContext, spatialAttrSpecs } from './define.js';
import { matmulShape } from './gemm.js';

/** Shape, type and MACs of the com.microsoft weight-quantized MatMuls (MatMulNBits, MatMulBnb4): A [..., K] → [..., N]. */
const WEIGHT_QUANTIZED_MATMUL = {
  inferShape: (c: ShapeContext) => {
    const a = c.shapes[0];
    const n = c.node.attrInt('N', Number.NaN);
    return [a === undefined || Number.isNaN(n) ? undefined : [...a.slice(0, -1), n]];
  },
  inferDType: (c: ShapeContext) => [c.dtypes[0]],
  macs: (node: Node, _ins: readonly (Shape | undefined)[], outs: readonly (Shape | undefined)[]) =>
    numel(outs[0]) * node.attrInt('K', Number.NaN),
};

// Quantized forms (https://onnx.ai/onnx/operators/onnx__QuantizeLinear.html and friends). They carry no weight facts:
// techniques treat them as already compressed. Shapes and MACs are registered so stats stay right after quantizing.

function convLikeShape(x: Shape | undefined, w: Shape | undefined, ctx: ShapeContext): (Shape | undefined)[] {
  if (x === undefined || w === undefined) return [undefined];
  const kernel = ctx.node.attrInts('kernel_shape') ?? w.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  if (kernel.some((k) => Number.isNaN(k))) return [undefined];
  const { strides, dilations, pads, autoPad } = spatialAttrs(ctx.node, kernel);
  return [
    [
      x[0] ?? null,
      w[0] ?? null,
      ...kernel.map((k, i) => convOutDim(x[i + 2] ?? null, k, strides[i]!, dilations[i]!, pads[i]!, pads[i + kernel.length]!, autoPad)),
    ],
  ];
}

const convMacs = (w: Shape | undefined, out: Shape | undefined): number =>
  numel(out) * (numel(w) / (typeof w?.[0] === 'number' ? w[0] : NaN));
const matmulMacs = (a: Shape | undefined, out: Shape | undefined): number => numel(out) * Number(a?.[a.length - 1]);

/** Quantize/dequantize and the integer kernels ORT runs. */
export const quantOps: OpInfo[] = [
  // com.microsoft.MatMulNBits: A [..., K] × B (N×K in `bits`-bit blocks) → [..., N]; K and N are attributes
  // (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.MatMulNBits).
  defineOp({
    opType: 'MatMulNBits',
    domain: 'com.microsoft',
    inputs: ['A', 'B', 'scales', 'zero_points?', 'g_idx?', 'bias?'],
    attrs: { K: required('INT'), N: required('INT'), bits: int(4), block_size: required('INT'), accuracy_level: int(0) },
    ...WEIGHT_QUANTIZED_MATMUL,
  }),
  // com.microsoft.MatMulBnb4: A [..., K] × B → [..., N]; B holds the weight transposed to [N, K], flattened, in blocks
  // of `block_size` 4-bit codes (two per byte, even element in the high nibble) scaled by one float `absmax` per block;
  // quant_type 0 = FP4, 1 = NF4
  // (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.MatMulBnb4).
  defineOp({
    opType: 'MatMulBnb4',
    domain: 'com.microsoft',
    inputs: ['A', 'B', 'absmax'],
    attrs: {
      K: required('INT'),
      N: required('INT'),
      block_size: required('INT'),
      quant_type: required('INT'),
      training_mode: int(0),
      transB: int(1),
    },
    ...WEIGHT_QUANTIZED_MATMUL,
  }),
  // com.microsoft.GatherBlockQuantized: Gather on a block-quantized table; `data` uint8 holds two 4-bit codes per byte
  // along `quantize_axis` (the last axis) when bits = 4, so the logical width is twice the stored one; the output has
  // the scales' type (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.GatherBlockQuantized).
  // (An odd width stores ⌈width/2⌉ bytes and reads here as one wider; mc writes even widths.) A lookup: no MACs.
  defineOp({
    opType: 'GatherBlockQuantized',
    domain: 'com.microsoft',
    inputs: ['data', 'indices', 'scales', 'zero_points?'],
    inferShape: (c) => {
      const d = c.shapes[0];
      const i = c.shapes[1];
      if (d === undefined || i === undefined || d.length === 0) return [undefined];
      const logical = [...d];
      const q = c.node.attrInt('quantize_axis', 1);
      const qa = q < 0 ? q + d.length : q;
      if (c.dtypes[0] === 'uint8' && c.node.attrInt('bits', 4) === 4 && qa === d.length - 1) {
        const w = d[qa];
        logical[qa] = typeof w === 'number' ? w * 2 : null;
      }
      const g = c.node.attrInt('gather_axis', 0);
      const ga = g < 0 ? g + d.length : g;
      return [[...logical.slice(0, ga), ...i, ...logical.slice(ga + 1)]];
    },
    inferDType: (c) => [c.dtypes[2]],
    macs: () => 0,
  }),
  defineOp({
    opType: 'QuantizeLinear',
    inputs: ['x', 'y_scale', 'y_zero_point?'],
    // axis and block_size (opset 21) select per-axis and blocked quantization; output_dtype 0 means "from y_zero_point".
    attrs: { axis: int(1), block_size: int(0), saturate: int(1), output_dtype: int(0) },
    channels: 'passthrough',
    inferShape: (c) => [c.shapes[0]],
    inferDType: (c) => [c.dtypes[2] ?? 'uint8'],
  }),
  defineOp({
    opType: 'DequantizeLinear',
    inputs: ['x', 'x_scale', 'x_zero_point?'],
    attrs: { axis: int(1), block_size: int(0) },
    channels: 'passthrough',
    inferShape: (c) => [c.shapes[0]],
    inferDType: (c) => [c.dtypes[1] ?? 'float32'],
  }),
  defineOp({
    opType: 'DynamicQuantizeLinear',
    inputs: ['x'],
    inferShape: (c) => [c.shapes[0], [], []],
    inferDType: () => ['uint8', 'float32', 'uint8'],
  }),
  defineOp({
    opType: 'MatMulInteger',
    inputs: ['A', 'B', 'a_zero_point?', 'b_zero_point?'],
    inferShape: (c) => [matmulShape(c.shapes[0], c.shapes[1])],
    inferDType: () => ['int32'],
    macs: (_n, ins, outs) => matmulMacs(ins[0], outs[0]),
  }),
  defineOp({
    opType: 'ConvInteger',
    inputs: ['x', 'w', 'x_zero_point?', 'w_zero_point?'],
    attrs: { ...spatialAttrSpecs, group: int(1) },
    inferShape: (c) => convLikeShape(c.shapes[0], c.shapes[1], c),
    inferDType: () => ['int32'],
    macs: (_n, ins, outs) => convMacs(ins[1], outs[0]),
  }),
  defineOp({
    opType: 'QLinearConv',
    inputs: ['x', 'x_scale', 'x_zero_point', 'w', 'w_scale', 'w_zero_point', 'y_scale', 'y_zero_point', 'B?'],
    attrs: { ...spatialAttrSpecs, group: int(1) },
    inferShape: (c) => convLikeShape(c.shapes[0], c.shapes[3], c),
    inferDType: (c) => [c.dtypes[7] ?? c.dtypes[0]],
    macs: (_n, ins, outs) => convMacs(ins[3], outs[0]),
  }),
  defineOp({
    opType: 'QLinearMatMul',
    inputs: ['a', 'a_scale', 'a_zero_point', 'b', 'b_scale', 'b_zero_point', 'y_scale', 'y_zero_point'],
    inferShape: (c) => [matmulShape(c.shapes[0], c.shapes[3])],
    inferDType: (c) => [c.dtypes[7] ?? c.dtypes[0]],
    macs: (_n, ins, outs) => matmulMacs(ins[0], outs[0]),
  }),
];
