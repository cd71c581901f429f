import type { Dim, Shape } from '../types.js';
import { broadcastShapes } from './elementwise.js';
import { defineOp, float, int, numel, type OpInfo, required } from './define.js';
import type { Node } from '../node.js';

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

/**
 * Einsum (https://onnx.ai/onnx/operators/onnx__Einsum.html): the size of every letter from the operands, '...' as the
 * broadcast of the dims it covers; without '->' the output is the letters seen once, in alphabetical order.
 */
function einsum(equation: string, shapes: (Shape | undefined)[]): { out: Shape; letters: Map<string, Dim>; ellipsis: Shape } | undefined {
  const [lhs, rhs] = equation.replace(/\s/g, '').split('->') as [string, string | undefined];
  const terms = lhs.split(',');
  if (terms.length !== shapes.length) return undefined;
  const letters = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Shape = [];
  for (const [i, term] of terms.entries()) {
    const s = shapes[i];
    if (s === undefined) return undefined;
    const [pre, post] = term.includes('...') ? (term.split('...') as [string, string]) : [term, undefined];
    const nEll = post === undefined ? 0 : s.length - pre.length - post.length;
    if (nEll < 0 || (post === undefined && pre.length !== s.length)) return undefined;
    if (post !== undefined) ellipsis = broadcastShapes([ellipsis, s.slice(pre.length, pre.length + nEll)]) ?? [];
    const named = [...pre]
      .map((c, k) => [c, s[k]!] as const)
      .concat([...(post ?? '')].map((c, k) => [c, s[pre.length + nEll + k]!] as const));
    for (const [c, d] of named) {
      const known = letters.get(c);
      letters.set(c, known === undefined || known === 1 ? d : typeof known === 'number' ? known : d);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
  }
  const outLetters =
    rhs ??
    [...counts]
      .filter(([, n]) => n === 1)
      .map(([c]) => c)
      .sort()
      .join('');
  const out: Dim[] = [];
  for (const part of outLetters.split(/(\.\.\.)/)) {
    if (part === '...') out.push(...ellipsis);
    else for (const c of part) out.push(letters.get(c) ?? null);
  }
  if (!outLetters.includes('...')) out.unshift(...ellipsis);
  return { out, letters, ellipsis };
}

/** Dense layers. Gemm computes alpha·A'·B' + beta·C; MatMul's weight is B ([K, N]) when it is a constant. */
export const gemmOps: OpInfo[] = [
  defineOp({
    opType: 'Gemm',
    inputs: ['A', 'B', 'C?'],
    // https://onnx.ai/onnx/operators/onnx__Gemm.html
    attrs: { alpha: float(1), beta: float(1), transA: int(0), transB: int(0) },
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
  defineOp({
    opType: 'Einsum',
    inputs: ['...Inputs'],
    attrs: { equation: required('STRING') },
    inferShape: (c) => [einsum(c.node.attrString('equation', ''), c.shapes)?.out],
    // With two or more operands every combination of letters is one multiply-add: the product of all letter sizes
    // (and of the broadcast '...' dims). One operand (a transpose, trace or sum) multiplies nothing.
    macs: (node: Node, ins) => {
      const e = einsum(node.attrString('equation', ''), ins);
      if (e === undefined) return NaN;
      if (ins.length < 2) return 0;
      return numel([...e.letters.values()]) * numel(e.ellipsis);
    },
  }),
];
