import { attr, Tensor, toFloat32, attrOf, slotOf } from '@mc/ir';
import type { KVal } from '../lower-context.js';
import { axisIn } from '../lower-context.js';
import { filled } from '../tensor-ops.js';
import { type LayerHandler, same } from './types.js';

function axisList(v: unknown, dflt: number): number[] {
  if (v === undefined || v === null) return [dflt];
  return Array.isArray(v) ? v.map(Number) : [Number(v)];
}

/**
 * BatchNormalization (inference): weights gamma?, beta?, moving_mean, moving_variance in Keras order. On the channel
 * axis of a conv tensor it becomes ONNX BatchNormalization in channels-first layout (so BN folding sees Conv → BN);
 * on [N, C] it runs as is.
 */
export const batchNorm: LayerHandler = {
  toIr(ctx) {
    const x0 = ctx.input(0);
    const rank = x0.shape.length;
    const axes = axisList(ctx.config.axis, -1).map((a) => (a < 0 ? a + rank : a));
    if (axes.length !== 1) throw ctx.error('E_UNSUPPORTED', `normalises over axes [${axes.join(', ')}]; only one axis is supported`);
    const axis = axes[0]!;
    const c = x0.shape[axis] ?? null;
    let i = 0;
    const gamma = ctx.cfg<boolean>('scale', true) ? ctx.stored(i++, 'gamma', [c]) : undefined;
    const beta = ctx.cfg<boolean>('center', true) ? ctx.stored(i++, 'beta', [c]) : undefined;
    const mean = ctx.stored(i++, 'moving_mean', [c]);
    const variance = ctx.stored(i++, 'moving_variance', [c]);
    const n = mean.dims[0]!;
    const eps = ctx.cfg<number>('epsilon', 1e-3);
    // The channel axis must land on ONNX axis 1: channels-last conv tensors go channels-first, [N, C] already is.
    let x: KVal;
    if (rank === 2 && axis === 1) x = ctx.input(0, 'native');
    else if (axis === rank - 1) x = ctx.input(0, 'cf');
    else if (axis === 1) x = ctx.input(0, 'native');
    else throw ctx.error('E_UNSUPPORTED', `normalises axis ${axis} of a rank-${rank} tensor; mc supports the channel axis only`);
    const y = ctx.node(
      'BatchNormalization',
      [
        x.value,
        ctx.weight('gamma', gamma ?? filled([n], 1)),
        ctx.weight('beta', beta ?? filled([n], 0)),
        ctx.weight('moving_mean', mean),
        ctx.weight('moving_variance', variance),
      ],
      { epsilon: attr.float(eps) },
    );
    return [{ value: y, layout: x.layout, shape: x0.shape }];
  },
  fromIr(group, ctx) {
    const bn = group.nodes.find((n) => n.opType === 'BatchNormalization');
    if (bn === undefined) return undefined;
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((k) => ctx.constant(bn.inputs[k]));
    if (scale === undefined || bias === undefined || mean === undefined || variance === undefined) return undefined;
    const weights: { name: string; tensor: Tensor }[] = [];
    const useScale = group.config.scale !== false;
    const useCenter = group.config.center !== false;
    const ones = toFloat32(scale).every((v) => v === 1);
    const zeros = toFloat32(bias).every((v) => v === 0);
    if (useScale || !ones) weights.push({ name: 'gamma', tensor: scale });
    if (useCenter || !zeros) weights.push({ name: 'beta', tensor: bias });
    weights.push({ name: 'moving_mean', tensor: mean }, { name: 'moving_variance', tensor: variance });
    const eps = attrOf(bn, 'epsilon');
    const orig = group.config.epsilon;
    // ONNX stores epsilon as float32: keep the config's double when it is the same number.
    const epsilon = typeof orig === 'number' && Math.fround(orig) === eps ? orig : eps;
    return same(group, weights, {
      ...group.config,
      scale: group.config.scale ?? useScale,
      center: group.config.center ?? useCenter,
      epsilon,
      ...(!ones && { scale: true }),
      ...(!zeros && { center: true }),
    });
  },
};

/** LayerNormalization over trailing axes → ONNX LayerNormalization (opset 17) in native layout. */
export const layerNorm: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const rank = x.shape.length;
    const axes = axisList(ctx.config.axis, -1)
      .map((a) => (a < 0 ? a + rank : a))
      .sort((a, b) => a - b);
    if (axes[axes.length - 1] !== rank - 1 || axes.some((a, i) => i > 0 && a !== axes[i - 1]! + 1)) {
      throw ctx.error('E_UNSUPPORTED', `normalises over axes [${axes.join(', ')}]; ONNX LayerNormalization needs trailing contiguous axes`);
    }
    const dims = axes.map((a) => x.shape[a] ?? null);
    let i = 0;
    const known = dims.every((d) => d !== null) ? (dims as number[]) : undefined;
    const gamma = ctx.cfg<boolean>('scale', true) ? ctx.stored(i++, 'gamma') : known !== undefined ? filled(known, 1) : undefined;
    if (gamma === undefined) throw ctx.error('E_UNSUPPORTED', `has scale=False and an unknown normalised shape`);
    const beta = ctx.cfg<boolean>('center', true) ? ctx.stored(i++, 'beta') : undefined;
    const inputs = [x.value, ctx.weight('gamma', gamma)];
    if (beta !== undefined) inputs.push(ctx.weight('beta', beta));
    const y = ctx.node('LayerNormalization', inputs, { axis: axes[0]!, epsilon: attr.float(ctx.cfg<number>('epsilon', 1e-3)) });
    return [{ value: y, layout: 'native', shape: x.shape }];
  },
  fromIr(group, ctx) {
    const n = group.nodes.find((m) => m.opType === 'LayerNormalization');
    if (n === undefined) return undefined;
    const g = ctx.constant(slotOf(n, 'Scale'));
    const b = ctx.constant(slotOf(n, 'B'));
    if (g === undefined) return undefined;
    const w: { name: string; tensor: Tensor }[] = [];
    if (group.config.scale !== false) w.push({ name: 'gamma', tensor: g });
    if (b !== undefined && group.config.center !== false) w.push({ name: 'beta', tensor: b });
    return same(group, w);
  },
};

/** Rescaling: x · scale + offset (scalars or per-channel lists). */
export const rescaling: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const asT = (v: unknown): Tensor<'float32'> =>
      Array.isArray(v)
        ? new Tensor('float32', [v.length], Float32Array.from(v.map(Number)))
        : new Tensor('float32', [], new Float32Array([Number(v ?? 0)]));
    let y = ctx.node('Mul', [x.value, ctx.constant('scale', asT(ctx.config.scale ?? 1))]);
    y = ctx.node('Add', [y, ctx.constant('offset', asT(ctx.config.offset ?? 0))]);
    return [{ value: y, layout: 'native', shape: x.shape }];
  },
  fromIr: (group) => same(group),
};

/**
 * Normalization (preprocessing): (x − mean) / max(sqrt(variance), 1e-7), as `keras/src/layers/preprocessing/normalization.py`.
 * Weights mean, variance (and count) in the file, or mean/variance in the config.
 */
export const normalization: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const fromCfg = (k: string): Tensor<'float32'> | undefined => {
      const v = ctx.config[k];
      if (v === undefined || v === null) return undefined;
      return Array.isArray(v)
        ? new Tensor('float32', [v.length], Float32Array.from(v.flat(4).map(Number)))
        : new Tensor('float32', [], new Float32Array([Number(v)]));
    };
    const mean = ctx.layer.weights.length >= 2 ? ctx.stored(0, 'mean') : fromCfg('mean');
    const variance = ctx.layer.weights.length >= 2 ? ctx.stored(1, 'variance') : fromCfg('variance');
    if (mean === undefined || variance === undefined)
      throw ctx.error(
        'E_FORMAT',
        'has neither stored mean/variance weights nor mean/variance in its config; adapt() the layer before saving',
      );
    const last = x.shape[x.shape.length - 1];
    const flat = (t: Tensor): Tensor<'float32'> => {
      const d = toFloat32(t);
      // Keras keeps broadcast shapes like [1, 1, C]; a [C] vector broadcasts the same way on the last axis.
      return new Tensor('float32', d.length === last ? [d.length] : t.dims, d);
    };
    const std = toFloat32(flat(variance)).map((v) => Math.max(Math.sqrt(v), 1e-7));
    const m = flat(mean);
    let y = ctx.node('Sub', [x.value, ctx.weight('mean', m)]);
    y = ctx.node('Div', [y, ctx.weight('std', new Tensor('float32', m.dims, std))]);
    return [{ value: y, layout: 'native', shape: x.shape }];
  },
  fromIr(group, ctx) {
    const sub = group.nodes.find((n) => n.opType === 'Sub');
    const div = group.nodes.find((n) => n.opType === 'Div');
    const mean = ctx.constant(sub && slotOf(sub, 'B'));
    const std = ctx.constant(div && slotOf(div, 'B'));
    if (mean === undefined || std === undefined) return undefined;
    const variance = new Tensor(
      'float32',
      std.dims,
      toFloat32(std).map((s) => s * s),
    );
    return same(group, [
      { name: 'mean', tensor: mean },
      { name: 'variance', tensor: variance },
      { name: 'count', tensor: new Tensor('int64', [], new BigInt64Array([0n])) },
    ]);
  },
};

export { axisIn };
