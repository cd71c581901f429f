import type { Layout } from '../lower-context.js';
import { axisIn } from '../lower-context.js';
import { tuple } from '../tensor-ops.js';
import { windowAttrs } from './conv.js';
import { type LayerHandler, same } from './types.js';

/**
 * Max/AveragePooling1D/2D/3D → MaxPool/AveragePool in channels-first layout. 'same' average pooling excludes the
 * padding from the count, as TF does (ONNX count_include_pad = 0, the default).
 */
function pool(op: 'MaxPool' | 'AveragePool'): LayerHandler {
  return {
    toIr(ctx) {
      const r = /1D$/.test(ctx.layer.className) ? 1 : /3D$/.test(ctx.layer.className) ? 3 : 2;
      const cfFirst = ctx.cfg<string>('data_format', 'channels_last') === 'channels_first';
      const layout: Layout = cfFirst ? 'native' : 'cf';
      const x = ctx.input(0, layout);
      const k = tuple(ctx.config.pool_size ?? ctx.config.pool_length, r, 2);
      const s = tuple(ctx.config.strides ?? ctx.config.stride ?? k, r, 1).map((v, i) => (Number.isFinite(v) ? v : k[i]!));
      const spatial = cfFirst ? x.shape.slice(2) : x.shape.slice(1, -1);
      const win = windowAttrs(ctx, spatial, k, s, new Array<number>(r).fill(1), false);
      const y = ctx.node(op, [x.value], win.attrs);
      const shape = cfFirst
        ? [x.shape[0] ?? null, x.shape[1] ?? null, ...win.out]
        : [x.shape[0] ?? null, ...win.out, x.shape[x.shape.length - 1] ?? null];
      return [{ value: y, layout, shape }];
    },
    fromIr: (group) => same(group),
  };
}

export const maxPool = pool('MaxPool');
export const avgPool = pool('AveragePool');

/** GlobalMax/GlobalAveragePooling: ReduceMax/ReduceMean over the spatial axes, in the input's layout. */
function globalPool(op: 'ReduceMax' | 'ReduceMean'): LayerHandler {
  return {
    toIr(ctx) {
      const x = ctx.input(0);
      const rank = x.shape.length;
      const cfFirst = ctx.cfg<string>('data_format', 'channels_last') === 'channels_first';
      const nativeAxes = cfFirst ? Array.from({ length: rank - 2 }, (_, i) => i + 2) : Array.from({ length: rank - 2 }, (_, i) => i + 1);
      const axes = nativeAxes.map((a) => axisIn(x.layout, a, rank)).sort((a, b) => a - b);
      const keep = ctx.cfg<boolean>('keepdims', false);
      const y = ctx.node(op, [x.value], { axes, keepdims: keep ? 1 : 0 });
      const shape = keep ? x.shape.map((d, i) => (nativeAxes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !nativeAxes.includes(i));
      return [{ value: y, layout: keep ? x.layout : 'native', shape }];
    },
    fromIr: (group) => same(group),
  };
}

export const globalMaxPool = globalPool('ReduceMax');
export const globalAvgPool = globalPool('ReduceMean');
