import { type Model, weightOf } from '@mc/ir';
import type { PassedThrough } from './report.js';

/**
 * Layers whose constant weight has no elements (a [64, 0] MatMul weight, say), with the reason they pass through: no
 * mode has anything to quantize there, and quantized forms of an empty weight are not loadable (onnxruntime refuses a
 * zero-size blockwise DequantizeLinear). @internal
 */
export function zeroSizeWeightNodes(model: Model): Map<string, string> {
  const out = new Map<string, string>();
  for (const n of model.graph.nodes) {
    const t = weightOf(n)?.tensor;
    if (t !== undefined && t.size === 0 && n.name !== '')
      out.set(n.name, `zero-size weight [${t.dims.join('x')}]: nothing to quantize, passed through untouched`);
  }
  return out;
}

/** Gives the zero-size layers their own reason in `passedThrough` (modes list them as excluded). @internal */
export function noteZeroSize(passed: PassedThrough[], zero: ReadonlyMap<string, string>, opTypes: ReadonlyMap<string, string>): void {
  for (const [node, reason] of zero) {
    const i = passed.findIndex((p) => p.node === node);
    if (i >= 0) passed[i] = { ...passed[i]!, reason };
    else passed.push({ node, opType: opTypes.get(node) ?? '', reason });
  }
}
