import { attr, type Tensor, slotOf } from '@mc/ir';
import { applyActivation } from '../activations.js';
import { axisIn } from '../lower-context.js';
import { type LayerHandler, same } from './types.js';

/** Element-wise layers run in whatever layout their input has (no Transpose). */

/** Activation(name): the activation alone; softmax axis is the last Keras axis. */
export const activation: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0);
    const axis = axisIn(x.layout, -1, x.shape.length);
    let y = applyActivation(ctx, x.value, ctx.config.activation, axis, ctx.keras3);
    if (y === x.value) y = ctx.node('Identity', [x.value]);
    return [{ ...x, value: y }];
  },
  fromIr: (group) => same(group),
};

/** ReLU(max_value, negative_slope, threshold): Relu, LeakyRelu, Clip, or the general piecewise form. */
export const relu: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0);
    const maxValue = ctx.config.max_value ?? null;
    const slope = ctx.cfg<number>('negative_slope', 0);
    const threshold = ctx.cfg<number>('threshold', 0);
    let y;
    if (threshold !== 0) {
      // f(x) = x >= t ? x : slope·(x − t)
      const t = ctx.scalar('threshold', threshold);
      const below = ctx.node('Mul', [ctx.node('Sub', [x.value, t]), ctx.scalar('negative_slope', slope)]);
      y = ctx.node('Where', [ctx.node('GreaterOrEqual', [x.value, t]), x.value, below]);
      if (maxValue !== null) y = ctx.node('Min', [y, ctx.scalar('max_value', Number(maxValue))]);
    } else if (slope !== 0) {
      y = ctx.node('LeakyRelu', [x.value], { alpha: attr.float(slope) });
      if (maxValue !== null) y = ctx.node('Min', [y, ctx.scalar('max_value', Number(maxValue))]);
    } else if (maxValue !== null) {
      y = ctx.node('Clip', [x.value, ctx.scalar('clip_min', 0), ctx.scalar('clip_max', Number(maxValue))]);
    } else {
      y = ctx.node('Relu', [x.value]);
    }
    return [{ ...x, value: y }];
  },
  fromIr: (group) => same(group),
};

/** LeakyReLU: Keras 2 `alpha`, Keras 3 `negative_slope` (both default 0.3). */
export const leakyRelu: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0);
    const alpha = ctx.cfg<number>('negative_slope', ctx.cfg<number>('alpha', 0.3));
    return [{ ...x, value: ctx.node('LeakyRelu', [x.value], { alpha: attr.float(alpha) }) }];
  },
  fromIr: (group) => same(group),
};

/** ELU(alpha). */
export const elu: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0);
    return [{ ...x, value: ctx.node('Elu', [x.value], { alpha: attr.float(ctx.cfg<number>('alpha', 1)) }) }];
  },
  fromIr: (group) => same(group),
};

/** Softmax(axis) on the mapped axis. */
export const softmax: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0);
    const a = ctx.config.axis;
    const axis = Array.isArray(a) ? Number(a[0]) : Number(a ?? -1);
    return [{ ...x, value: ctx.node('Softmax', [x.value], { axis: axisIn(x.layout, axis, x.shape.length) }) }];
  },
  fromIr: (group) => same(group),
};

/** PReLU: alpha has the input's shape without batch (shared axes of size 1): ONNX PRelu broadcasts it natively. */
export const prelu: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const alpha = ctx.stored(0, 'alpha');
    return [{ ...x, value: ctx.node('PRelu', [x.value, ctx.weight('alpha', alpha)]) }];
  },
  fromIr(group, ctx) {
    const n = group.nodes.find((m) => m.opType === 'PRelu');
    const a = ctx.constant(n && slotOf(n, 'slope'));
    return a === undefined ? undefined : same(group, [{ name: 'alpha', tensor: a as Tensor }]);
  },
};
