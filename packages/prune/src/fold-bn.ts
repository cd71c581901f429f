import { attrOf, biasOf, type McWarning, type Model, type Node, paramsOf, type Pass, slotOf, Tensor, toFloat32, weightOf } from '@mc/ir';

/** Per-output-channel scale of a weight with output channels on `outAxis`. */
function scaleChannels(w: Float32Array, dims: readonly number[], outAxis: number, s: Float64Array, group: number): Float32Array {
  let inner = 1;
  for (let d = outAxis + 1; d < dims.length; d++) inner *= dims[d]!;
  const len = dims[outAxis]!;
  const outer = w.length / (len * inner);
  const out = new Float32Array(w.length);
  for (let a = 0; a < outer; a++) {
    // ConvTranspose with groups stores [C_in, M/group, …]: output channel = (a / (C_in/group))·len + c.
    const g = group > 1 ? Math.floor(a / (outer / group)) : 0;
    for (let c = 0; c < len; c++) {
      const f = s[g * len + c]!;
      const base = (a * len + c) * inner;
      for (let i = 0; i < inner; i++) out[base + i] = w[base + i]! * f;
    }
  }
  return out;
}

/** Why `bn` cannot fold into the layer before it, or the layer. */
function check(bn: Node): { layer: Node } | { skip: string } {
  const x = slotOf(bn, 'X');
  const layer = x?.producer();
  if (x === undefined || layer === undefined) return { skip: 'its input is not produced by a layer' };
  if (layer.opType !== 'Conv' && layer.opType !== 'ConvTranspose' && layer.opType !== 'Gemm')
    return { skip: `its input comes from ${layer.opType}` };
  if (x.uses().length !== 1 || x.isGraphOutput()) return { skip: `the ${layer.opType} output has other readers` };
  if (attrOf(bn, 'training_mode') === 1) return { skip: 'training_mode = 1' };
  if (bn.outputs.slice(1).some((o) => o.uses().length > 0 || o.isGraphOutput())) return { skip: 'running statistics outputs are used' };
  const w = weightOf(layer);
  // A weight or bias shared with other layers is fine: the folded tensors are new initializers of this layer alone
  // (copy on write), the others keep reading the original.
  if (w?.tensor === undefined || !w.value.isInitializer() || w.value.isGraphInput())
    return { skip: `the ${layer.opType} weight is not a constant initializer` };
  const b = biasOf(layer);
  if (b !== undefined && (b.tensor === undefined || b.value.isGraphInput())) return { skip: `the ${layer.opType} bias is not a constant` };
  if (layer.opType === 'Gemm' && (attrOf(layer, 'alpha') !== 1 || attrOf(layer, 'beta') !== 1))
    return { skip: 'the Gemm has alpha or beta ≠ 1' };
  if (layer.opType === 'Gemm' && b?.tensor !== undefined && b.tensor.size !== w.tensor.dims[w.outAxis])
    return { skip: 'the Gemm bias broadcasts' };
  const p = paramsOf(bn);
  if (['scale', 'B', 'input_mean', 'input_var'].some((k) => p.get(k)?.constValue === undefined))
    return { skip: 'its parameters are not constants' };
  return { layer };
}

/**
 * Folds BatchNormalization into the Conv / ConvTranspose / Gemm that feeds it (inference form,
 * https://onnx.ai/onnx/operators/onnx__BatchNormalization.html):
 *
 *   y = γ·(conv(x) − μ)/√(σ² + ε) + β,  conv(x) = W∗x + b
 *   ⇒ y = (s·W)∗x + (s·(b − μ) + β),   s = γ/√(σ² + ε) per output channel
 *
 * so W'[o] = s_o·W[o] and b'_o = s_o·(b_o − μ_o) + β_o, and the BatchNormalization node goes. Skips (with a reason in
 * the warnings) when the layer output has other readers or any parameter is not a constant.
 *
 * @example
 * ```ts
 * runPasses(model, [foldBatchNormPass]);
 * ```
 */
export const foldBatchNormPass: Pass = {
  name: 'fold-batchnorm',
  run(model: Model) {
    const warnings: McWarning[] = [];
    let modified = false;
    const g = model.graph;
    for (const bn of [...g.nodes]) {
      if (bn.opType !== 'BatchNormalization' || (bn.domain !== '' && bn.domain !== 'ai.onnx')) continue;
      const c = check(bn);
      if ('skip' in c) {
        warnings.push({ code: 'W_SKIP', node: bn.name, message: `BatchNormalization '${bn.name}' not folded: ${c.skip}` });
        continue;
      }
      const layer = c.layer;
      const w = weightOf(layer)!;
      const wt = w.tensor!;
      const p = paramsOf(bn);
      const [gamma, beta, mean, vr] = ['scale', 'B', 'input_mean', 'input_var'].map((k) => toFloat32(p.get(k)!.constValue!)) as [
        Float32Array,
        Float32Array,
        Float32Array,
        Float32Array,
      ];
      const eps = attrOf(bn, 'epsilon');
      const n = gamma.length;
      const s = new Float64Array(n);
      for (let i = 0; i < n; i++) s[i] = gamma[i]! / Math.sqrt(vr[i]! + eps);
      const group = layer.opType === 'ConvTranspose' ? w.group : 1;
      const nw = new Tensor('float32', wt.dims, scaleChannels(toFloat32(wt), wt.dims, w.outAxis, s, group));
      const b = biasOf(layer);
      const old = b?.tensor === undefined ? new Float32Array(n) : toFloat32(b.tensor);
      const nb = new Float32Array(n);
      for (let i = 0; i < n; i++) nb[i] = s[i]! * (old[i]! - mean[i]!) + beta[i]!;
      layer.replaceInput(w.index, g.addInitializer(g.uniqueName(w.value.name), nw));
      const biasIndex = b?.index ?? 2; // spec position of Conv 'B' / Gemm 'C' when absent
      layer.replaceInput(
        biasIndex,
        g.addInitializer(g.uniqueName(b?.value.name ?? `${layer.name}_bias`), new Tensor('float32', b?.tensor?.dims ?? [n], nb)),
      );
      const y = bn.outputs[0]!;
      const xv = layer.outputs[0]!;
      xv.shape = y.shape;
      y.replaceAllUsesWith(xv, { graphOutputs: true });
      g.remove(bn);
      modified = true;
    }
    if (modified) g.removeUnusedInitializers();
    return { modified, warnings };
  },
};
