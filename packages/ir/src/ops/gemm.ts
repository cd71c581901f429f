import type { Dim, Shape } from '../types.js';
import { broadcastShapes } from './elementwise.js';
import { defineOp, numel, type OpInfo } from './define.js';

/** MatMul output shape with numpy semantics (https://onnx.ai/onnx/operators/onnx__MatMul.html). */
export function matmulShape(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (a === undefined || b === undefined || a.length === 0 || b.length === 0) return undefined;
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]) ?? [];
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

/** Dense layers. Gemm computes alpha·A'·B' + beta·C; MatMul's weight is B ([K, N]) when it is a constant. */
export const gemmOps: OpInfo[] = [
  defineOp({
    opType: 'Gemm',
    inputs: ['A', 'B', 'C?'],
    // B is [K, N] (outAxis 1) unless transB = 1 ([N, K]); weightOf() resolves the attribute.
    params: { weight: { input: 'B', outAxis: 1, inAxis: 0, transposeAttr: 'transB' }, bias: { input: 'C' } },
    channels: 'producer',
    inferShape: (c) => {
      const a = c.shapes[0];
      const b = c.shapes[1];
      if (a === undefined || b === undefined || a.length !== 2 || b.length !== 2) return [undefined];
      const m = c.node.attrInt('transA', 0) ? a[1]! : a[0]!;
      const n = c.node.attrInt('transB', 0) ? b[0]! : b[1]!;
      return [[m, n]];
    },
    macs: (node, ins, outs) => {
      const a = ins[0];
      const k = a === undefined ? NaN : Number(node.attrInt('transA', 0) ? a[0] : a[1]);
      return numel(outs[0]) * k;
    },
  }),
  defineOp({
    opType: 'MatMul',
    inputs: ['A', 'B'],
    params: { weight: { input: 'B', outAxis: 1, inAxis: 0 } },
    channels: 'producer',
    inferShape: (c) => [matmulShape(c.shapes[0], c.shapes[1])],
    macs: (_node, ins, outs) => {
      const a = ins[0];
      const k = a === undefined ? NaN : Number(a[a.length - 1]);
      return numel(outs[0]) * k;
    },
  }),
];
