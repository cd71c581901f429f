import { KERAS_DOMAIN } from '../lower-context.js';
import { type LayerHandler, same } from './types.js';

/**
 * A layer mc has no mapping for (custom layers such as QKeras `QDense`): one node in domain `mc.keras` whose op type
 * is the class name, taking the layer's inputs and its weights (`<layer>/<stored name>`), config in the tag. Techniques
 * pass it through; writing back to Keras restores the layer verbatim. ONNX runtimes cannot run it.
 */
export const opaque: LayerHandler = {
  toIr(ctx) {
    const xs = ctx.inputs.map((_, i) => ctx.input(i, 'native'));
    const weights = ctx.layer.weights.map((t, i) =>
      ctx.weight(ctx.layer.weightNames[i]?.replace(/:0$/, '').split('/').pop() ?? `w${i}`, t),
    );
    const y = ctx.node(ctx.layer.className, [...xs.map((x) => x.value), ...weights], {}, { domain: KERAS_DOMAIN });
    const first = xs[0]?.shape ?? [null];
    const units = ctx.config.units ?? ctx.config.filters;
    // Best guess at the output shape: a units/filters layer changes the last axis, anything else keeps the shape.
    const shape = typeof units === 'number' ? [...first.slice(0, -1), units] : first;
    return [{ value: y, layout: 'native', shape }];
  },
  fromIr(group, ctx) {
    const n = group.nodes[0];
    if (n === undefined) return undefined;
    const weights = n.inputs
      .map((v) => ({ v, t: ctx.constant(v) }))
      .filter((w) => w.t !== undefined && w.v !== undefined && w.v.isInitializer())
      .map((w) => ({ name: w.v!.name.split('/').slice(1).join('/'), tensor: w.t! }));
    return same(group, weights);
  },
};
