import { type Node, Tensor, toFloat32, type Value, attrOf, slotOf } from '@mc/ir';
import { applyActivation } from '../activations.js';
import type { KVal, LowerContext } from '../lower-context.js';
import { permute } from '../tensor-ops.js';
import type { FromIrContext, KerasLayerOut, LayerGroup, LayerHandler } from './types.js';

/**
 * Dense: `y = act(x · kernel + bias)` on the last axis → MatMul (kernel [in, units], as Keras stores it) + Add + the
 * activation. MatMul rather than Gemm so inputs of any rank work and low-rank factorisation sees `MatMul(B const)`.
 */
export const dense: LayerHandler = {
  toIr(ctx: LowerContext): KVal[] {
    const x = ctx.input(0, 'native');
    const inDim = x.shape[x.shape.length - 1] ?? null;
    const units = ctx.cfg<number>('units', 0);
    const useBias = ctx.cfg<boolean>('use_bias', true);
    const kernel = ctx.stored(0, 'kernel', [inDim, units]);
    let y = ctx.node('MatMul', [x.value, ctx.weight('kernel', kernel)]);
    if (useBias) y = ctx.node('Add', [y, ctx.weight('bias', ctx.stored(1, 'bias', [units]))]);
    y = applyActivation(ctx, y, ctx.config.activation, -1, ctx.keras3);
    return [{ value: y, layout: 'native', shape: [...x.shape.slice(0, -1), units] }];
  },

  fromIr(group: LayerGroup, ctx: FromIrContext): KerasLayerOut[] | undefined {
    const chain = linearChain(group.nodes, ctx);
    if (chain === undefined || chain.length === 0) return undefined;
    const out: KerasLayerOut[] = [];
    chain.forEach((m, i) => {
      const last = i === chain.length - 1;
      const name = last ? group.name : `${group.name}_factor${chain.length > 2 ? i + 1 : ''}`;
      const config = {
        ...group.config,
        name,
        units: m.kernel.dims[1]!,
        use_bias: m.bias !== undefined,
        activation: last ? (group.config.activation ?? 'linear') : 'linear',
      };
      const weights = [{ name: 'kernel', tensor: m.kernel }];
      if (m.bias !== undefined) weights.push({ name: 'bias', tensor: m.bias });
      out.push({ className: 'Dense', name, config, weights });
    });
    return out;
  },
};

interface LinearStep {
  kernel: Tensor;
  bias?: Tensor;
}

/**
 * The MatMul/Gemm(+Add bias) chain of a Dense group, in data order: one step for a plain Dense, two or more after
 * low-rank factorisation (`x·U·V`, the first without bias).
 */
export function linearChain(nodes: readonly Node[], ctx: FromIrContext): LinearStep[] | undefined {
  const steps: LinearStep[] = [];
  for (const n of nodes) {
    if (n.opType === 'MatMul') {
      const w = ctx.constant(slotOf(n, 'B'));
      if (w === undefined || w.dims.length !== 2) return undefined;
      steps.push({ kernel: asFloat(w) });
    } else if (n.opType === 'Gemm') {
      const w = ctx.constant(slotOf(n, 'B'));
      if (w === undefined || w.dims.length !== 2) return undefined;
      const transB = attrOf(n, 'transB') === 1;
      const alpha = attrOf(n, 'alpha');
      let k = transB ? permute(w, [1, 0]) : asFloat(w);
      if (alpha !== 1) k = scale(k, alpha);
      const step: LinearStep = { kernel: k };
      const c = ctx.constant(slotOf(n, 'C'));
      if (c !== undefined) step.bias = scale(asFloat(c).reshape([c.size]), attrOf(n, 'beta'));
      steps.push(step);
    } else if (n.opType === 'Add' && steps.length > 0) {
      const b = ctx.constant(slotOf(n, 'B')) ?? ctx.constant(slotOf(n, 'A'));
      const last = steps[steps.length - 1]!;
      if (b === undefined || last.bias !== undefined) continue;
      last.bias = asFloat(b).reshape([b.size]);
    }
  }
  return steps;
}

function asFloat(t: Tensor): Tensor<'float32'> {
  return t.dtype === 'float32' ? (t as Tensor<'float32'>) : new Tensor('float32', t.dims, toFloat32(t));
}

function scale(t: Tensor<'float32'>, s: number): Tensor<'float32'> {
  return s === 1
    ? t
    : new Tensor(
        'float32',
        t.dims,
        t.data.map((x) => x * s),
      );
}

/** True when `v` is produced by a node in `nodes`. @internal */
export function producedIn(v: Value | undefined, nodes: readonly Node[]): boolean {
  const p = v?.producer();
  return p !== undefined && nodes.includes(p);
}
