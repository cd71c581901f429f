import { axisIn, type KVal } from '../lower-context.js';
import { type LayerHandler, same } from './types.js';

/** Broadcast of native shapes (merge layers take equal shapes; batch may differ in null-ness). */
function mergedShape(vals: KVal[]): (number | null)[] {
  const r = Math.max(...vals.map((v) => v.shape.length));
  return Array.from({ length: r }, (_, i) => {
    for (const v of vals) {
      const d = v.shape[v.shape.length - r + i];
      if (d !== undefined && d !== null && d !== 1) return d;
    }
    return vals[0]!.shape[i] ?? null;
  });
}

/**
 * Add/Subtract/Multiply/Maximum/Minimum/Average: binary ONNX ops chained left to right (Add stays `Add` so residual
 * patterns are visible), in the layout most inputs already have.
 */
function elementwise(op: 'Add' | 'Sub' | 'Mul' | 'Max' | 'Min', average = false): LayerHandler {
  return {
    toIr(ctx) {
      const { layout, vals } = ctx.inputsAligned();
      let y = vals[0]!.value;
      for (const v of vals.slice(1)) y = ctx.node(op, [y, v.value]);
      if (average) y = ctx.node('Mul', [y, ctx.scalar('inv_n', 1 / vals.length)]);
      return [{ value: y, layout, shape: mergedShape(vals) }];
    },
    fromIr: (group) => same(group),
  };
}

export const add = elementwise('Add');
export const subtract = elementwise('Sub');
export const multiply = elementwise('Mul');
export const maximum = elementwise('Max');
export const minimum = elementwise('Min');
export const average = elementwise('Add', true);

/** Concatenate(axis) → Concat on the mapped axis. */
export const concatenate: LayerHandler = {
  toIr(ctx) {
    const { layout, vals } = ctx.inputsAligned();
    const rank = vals[0]!.shape.length;
    const a = ctx.cfg<number>('axis', -1);
    const na = a < 0 ? a + rank : a;
    const y = ctx.node(
      'Concat',
      vals.map((v) => v.value),
      { axis: axisIn(layout, na, rank) },
    );
    const shape = vals[0]!.shape.map((d, i) =>
      i === na ? (vals.some((v) => v.shape[i] === null) ? null : vals.reduce((s, v) => s + (v.shape[i] as number), 0)) : d,
    );
    return [{ value: y, layout, shape }];
  },
  fromIr: (group) => same(group),
};
