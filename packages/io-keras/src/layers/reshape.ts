import { Tensor } from '@mc/ir';
import { axisIn, type KVal } from '../lower-context.js';
import { type LayerHandler, same } from './types.js';

const prod = (d: readonly (number | null)[]): number | null =>
  d.some((x) => x === null) ? null : (d as number[]).reduce((a, b) => a * b, 1);

/** Flatten: Keras flattens in its own (channels-last) order, so the input goes native first (one Transpose after a conv stack). */
export const flatten: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const y = ctx.node('Flatten', [x.value], { axis: 1 });
    return [{ value: y, layout: 'native', shape: [x.shape[0] ?? null, prod(x.shape.slice(1))] }];
  },
  fromIr: (group) => same(group),
};

/** Reshape(target_shape) → ONNX Reshape [0, ...target] (0 keeps the batch dim). */
export const reshape: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const target = (ctx.config.target_shape as number[] | undefined) ?? [];
    const y = ctx.node('Reshape', [x.value, ctx.int64('shape', [0, ...target.map((d) => (d === null ? -1 : d))])]);
    let shape: (number | null)[] = [x.shape[0] ?? null, ...target.map((d) => (d === -1 || d === null ? null : d))];
    const total = prod(x.shape.slice(1));
    const known = prod(shape.slice(1).filter((d) => d !== null));
    if (total !== null && known !== null) shape = shape.map((d, i) => (i > 0 && d === null ? total / known : d));
    return [{ value: y, layout: 'native', shape }];
  },
  fromIr: (group) => same(group),
};

/** Permute(dims): dims are 1-based and exclude the batch axis. */
export const permuteLayer: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const dims = (ctx.config.dims as number[] | undefined) ?? [];
    const y = ctx.node('Transpose', [x.value], { perm: [0, ...dims] });
    return [{ value: y, layout: 'native', shape: [x.shape[0] ?? null, ...dims.map((d) => x.shape[d] ?? null)] }];
  },
  fromIr: (group) => same(group),
};

/** Dropout and other training-only layers: Identity at inference (kept as a node so writing back keeps the layer). */
export const identity: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0);
    return [{ ...x, value: ctx.node('Identity', [x.value]) }];
  },
  fromIr: (group) => same(group),
};

function pairs(v: unknown, r: number): [number, number][] {
  if (typeof v === 'number') return new Array(r).fill([v, v]) as [number, number][];
  if (Array.isArray(v)) {
    if (r === 1 && v.length === 2 && typeof v[0] === 'number') return [[Number(v[0]), Number(v[1])]];
    return v.map((p) => (Array.isArray(p) ? [Number(p[0]), Number(p[1])] : [Number(p), Number(p)]));
  }
  return new Array(r).fill([1, 1]) as [number, number][];
}

function spatialAxes(x: KVal, r: number, cfFirst: boolean): number[] {
  const native = Array.from({ length: r }, (_, i) => (cfFirst ? i + 2 : i + 1));
  return native.map((a) => axisIn(x.layout, a, x.shape.length));
}

/** ZeroPadding1D/2D/3D → Pad (constant 0) on the spatial axes of whatever layout the input has. */
export const zeroPadding: LayerHandler = {
  toIr(ctx) {
    const r = /1D$/.test(ctx.layer.className) ? 1 : /3D$/.test(ctx.layer.className) ? 3 : 2;
    const cfFirst = ctx.cfg<string>('data_format', 'channels_last') === 'channels_first';
    const x = ctx.input(0);
    const p = pairs(ctx.config.padding, r);
    const rank = x.shape.length;
    const pads = new Array<number>(2 * rank).fill(0);
    spatialAxes(x, r, cfFirst).forEach((a, i) => {
      pads[a] = p[i]![0];
      pads[a + rank] = p[i]![1];
    });
    const y = ctx.node('Pad', [x.value, ctx.int64('pads', pads)], { mode: 'constant' });
    const shape = x.shape.map((d, i) => {
      const j = (cfFirst ? [2, 3, 4] : [1, 2, 3]).indexOf(i);
      return j >= 0 && j < r && d !== null ? d + p[j]![0] + p[j]![1] : d;
    });
    return [{ value: y, layout: x.layout, shape }];
  },
  fromIr: (group) => same(group),
};

/** Cropping1D/2D/3D → Slice on the spatial axes. */
export const cropping: LayerHandler = {
  toIr(ctx) {
    const r = /1D$/.test(ctx.layer.className) ? 1 : /3D$/.test(ctx.layer.className) ? 3 : 2;
    const cfFirst = ctx.cfg<string>('data_format', 'channels_last') === 'channels_first';
    const x = ctx.input(0);
    const c = pairs(ctx.config.cropping, r);
    const axes = spatialAxes(x, r, cfFirst);
    const starts = c.map((p) => p[0]);
    // An end crop of 0 means "to the end": INT64_MAX-like sentinel.
    const ends = c.map((p) => (p[1] === 0 ? 2 ** 31 - 1 : -p[1]));
    const y = ctx.node('Slice', [x.value, ctx.int64('starts', starts), ctx.int64('ends', ends), ctx.int64('axes', axes)]);
    const shape = x.shape.map((d, i) => {
      const j = (cfFirst ? [2, 3, 4] : [1, 2, 3]).indexOf(i);
      return j >= 0 && j < r && d !== null ? d - c[j]![0] - c[j]![1] : d;
    });
    return [{ value: y, layout: x.layout, shape }];
  },
  fromIr: (group) => same(group),
};

/**
 * UpSampling1D/2D → Resize in channels-first layout. nearest = pixel repetition (asymmetric + floor);
 * bilinear follows TF2 `tf.image.resize` (half_pixel).
 */
export const upSampling: LayerHandler = {
  toIr(ctx) {
    const r = /1D$/.test(ctx.layer.className) ? 1 : /3D$/.test(ctx.layer.className) ? 3 : 2;
    const cfFirst = ctx.cfg<string>('data_format', 'channels_last') === 'channels_first';
    const x = ctx.input(0, cfFirst ? 'native' : 'cf');
    const raw = ctx.config.size ?? ctx.config.length ?? 2;
    const size = typeof raw === 'number' ? new Array<number>(r).fill(raw) : (raw as number[]).map(Number);
    const bilinear = ctx.cfg<string>('interpolation', 'nearest') === 'bilinear';
    const scales = ctx.constant('scales', new Tensor('float32', [r + 2], Float32Array.from([1, 1, ...size])));
    const attrs = bilinear
      ? { mode: 'linear', coordinate_transformation_mode: 'half_pixel' }
      : { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' };
    const y = ctx.node('Resize', [x.value, undefined, scales], attrs);
    const shape = x.shape.map((d, i) => {
      const j = (cfFirst ? [2, 3, 4] : [1, 2, 3]).indexOf(i);
      return j >= 0 && j < r && d !== null ? d * size[j]! : d;
    });
    return [{ value: y, layout: x.layout, shape }];
  },
  fromIr: (group) => same(group),
};
