import { type Node, Tensor, toFloat32, attrOf, slotOf } from '@mc/ir';
import { applyActivation } from '../activations.js';
import type { KVal, Layout, LowerContext } from '../lower-context.js';
import { axisIn } from '../lower-context.js';
import { permute, samePads, tuple, validOut } from '../tensor-ops.js';
import type { FromIrContext, KerasLayerOut, LayerGroup, LayerHandler } from './types.js';

/** Spatial rank of a conv class. */
function spatialRank(className: string): number {
  return /1D$/.test(className) ? 1 : /3D$/.test(className) ? 3 : 2;
}

/** Keras `channels_first` tensors are already in ONNX order, so the conv wants them as they are. */
function convLayout(ctx: LowerContext): Layout {
  return ctx.cfg<string>('data_format', 'channels_last') === 'channels_first' ? 'native' : 'cf';
}

/** Spatial dims of a native-order shape. */
function spatialDims(shape: readonly (number | null)[], layout: Layout, cfFirst: boolean): (number | null)[] {
  return cfFirst && layout === 'native' ? shape.slice(2) : shape.slice(1, -1);
}

interface Window {
  attrs: Record<string, number[] | string | number>;
  out: (number | null)[];
}

/** ONNX window attributes (kernel_shape/strides/dilations/pads) for Keras padding valid/same/causal. @internal */
export function windowAttrs(
  ctx: LowerContext,
  inDims: (number | null)[],
  k: number[],
  s: number[],
  d: number[],
  withDilations = true,
): Window {
  const padding = ctx.cfg<string>('padding', 'valid').toLowerCase();
  const r = k.length;
  const attrs: Window['attrs'] = { kernel_shape: k, strides: s };
  if (withDilations) attrs.dilations = d;
  if (padding === 'valid') {
    attrs.pads = new Array<number>(2 * r).fill(0);
    return { attrs, out: inDims.map((n, i) => validOut(n, k[i]!, s[i]!, d[i]!)) };
  }
  if (padding === 'causal') {
    // Conv1D causal: pad (k-1)·d on the left only.
    attrs.pads = [(k[0]! - 1) * d[0]!, 0];
    return { attrs, out: inDims.map((n, i) => (n === null ? null : Math.floor((n - 1) / s[i]!) + 1)) };
  }
  if (padding !== 'same') throw ctx.error('E_UNSUPPORTED', `has padding '${padding}'; use 'valid', 'same' or 'causal'`);
  const pads = inDims.map((n, i) => samePads(n, k[i]!, s[i]!, d[i]!));
  if (pads.every((p) => p !== undefined)) {
    attrs.pads = [...pads.map((p) => p!.begin), ...pads.map((p) => p!.end)];
    return { attrs, out: pads.map((p) => p!.out) };
  }
  // Unknown spatial size: ONNX SAME_UPPER is TF 'same' (extra pixel at the end).
  attrs.auto_pad = 'SAME_UPPER';
  return { attrs, out: inDims.map((n, i) => (n === null ? null : Math.ceil(n / s[i]!))) };
}

function outShape(x: KVal, layout: Layout, cfFirst: boolean, channels: number, spatial: (number | null)[]): (number | null)[] {
  return cfFirst && layout === 'native' ? [x.shape[0] ?? null, channels, ...spatial] : [x.shape[0] ?? null, ...spatial, channels];
}

/** What every conv handler reads first: rank, layout, input, channels and the window config. */
function convSetup(ctx: LowerContext): {
  r: number;
  layout: Layout;
  cfFirst: boolean;
  x: KVal;
  cin: number | null;
  filters: number;
  k: number[];
  s: number[];
  d: number[];
} {
  const r = spatialRank(ctx.layer.className);
  const layout = convLayout(ctx);
  const cfFirst = layout === 'native';
  const x = ctx.input(0, layout);
  const cin = (cfFirst ? x.shape[1] : x.shape[x.shape.length - 1]) ?? null;
  return {
    r,
    layout,
    cfFirst,
    x,
    cin,
    filters: ctx.cfg<number>('filters', 0),
    k: tuple(ctx.config.kernel_size, r, 1),
    s: tuple(ctx.config.strides, r, 1),
    d: tuple(ctx.config.dilation_rate, r, 1),
  };
}

/** Conv1D / Conv2D / Conv3D: kernel [*k, in/groups, out] (Keras) → W [out, in/groups, *k] (ONNX OIHW), once. */
export const conv: LayerHandler = {
  toIr(ctx) {
    const { r, layout, cfFirst, x, cin, filters, k, s, d } = convSetup(ctx);
    const groups = ctx.cfg<number>('groups', 1);
    const kernel = ctx.stored(0, 'kernel', [...k, cin === null ? null : cin / groups, filters]);
    const w = permute(kernel, [r + 1, r, ...k.map((_, i) => i)]);
    const win = windowAttrs(ctx, spatialDims(x.shape, x.layout, cfFirst), k, s, d);
    const inputs = [x.value, ctx.weight('kernel', w)];
    if (ctx.cfg<boolean>('use_bias', true)) inputs.push(ctx.weight('bias', ctx.stored(1, 'bias', [filters])));
    let y = ctx.node('Conv', inputs, { ...win.attrs, group: groups });
    y = applyActivation(ctx, y, ctx.config.activation, axisIn('cf', -1, r + 2), ctx.keras3);
    return [{ value: y, layout, shape: outShape(x, layout, cfFirst, filters, win.out) }];
  },
  fromIr(group, ctx) {
    return convChainFromIr(group, ctx);
  },
};

/** DepthwiseConv2D: kernel [kh, kw, C, mult] → W [C·mult, 1, kh, kw], group C (output channel c·mult + m, as TF). */
export const depthwiseConv: LayerHandler = {
  toIr(ctx) {
    const { r, layout, cfFirst, x, cin, k, s, d } = convSetup(ctx);
    const kernel = ctx.stored(0, 'depthwise_kernel', [...k, cin, null]);
    const c = kernel.dims[r]!;
    const mult = kernel.dims[r + 1]!;
    const w = permute(kernel, [r, r + 1, ...k.map((_, i) => i)]).reshape([c * mult, 1, ...k]);
    const win = windowAttrs(ctx, spatialDims(x.shape, x.layout, cfFirst), k, s, d);
    const inputs = [x.value, ctx.weight('depthwise_kernel', w)];
    if (ctx.cfg<boolean>('use_bias', true)) inputs.push(ctx.weight('bias', ctx.stored(1, 'bias', [c * mult])));
    let y = ctx.node('Conv', inputs, { ...win.attrs, group: c });
    y = applyActivation(ctx, y, ctx.config.activation, 1, ctx.keras3);
    return [{ value: y, layout, shape: outShape(x, layout, cfFirst, c * mult, win.out) }];
  },
  fromIr(group, ctx) {
    const one = soleConv(group, ctx, 'Conv');
    if (one === undefined) return undefined;
    const { n, w } = one;
    const g = attrOf(n, 'group');
    const mult = w.dims[0]! / g;
    const k = w.dims.slice(2);
    // [C·mult, 1, *k] → [*k, C, mult]
    const kernel = permute(w.reshape([g, mult, ...k]), [...k.map((_, i) => i + 2), 0, 1]);
    const weights = [{ name: 'depthwise_kernel', tensor: kernel as Tensor }];
    const b = ctx.constant(slotOf(n, 'B'));
    if (b !== undefined) weights.push({ name: 'bias', tensor: b });
    return [
      {
        className: group.className,
        name: group.name,
        config: { ...group.config, depth_multiplier: mult, use_bias: b !== undefined },
        weights,
      },
    ];
  },
};

/** SeparableConv2D: depthwise Conv (group C, no bias) then pointwise 1x1 Conv with the bias and activation. */
export const separableConv: LayerHandler = {
  toIr(ctx) {
    const { r, layout, cfFirst, x, cin, filters, k, s, d } = convSetup(ctx);
    const dk = ctx.stored(0, 'depthwise_kernel', [...k, cin, null]);
    const c = dk.dims[r]!;
    const mult = dk.dims[r + 1]!;
    const pk = ctx.stored(1, 'pointwise_kernel', [...new Array<number>(r).fill(1), c * mult, filters]);
    const dw = permute(dk, [r, r + 1, ...k.map((_, i) => i)]).reshape([c * mult, 1, ...k]);
    const pw = permute(pk, [r + 1, r, ...k.map((_, i) => i)]);
    const win = windowAttrs(ctx, spatialDims(x.shape, x.layout, cfFirst), k, s, d);
    const mid = ctx.node('Conv', [x.value, ctx.weight('depthwise_kernel', dw)], { ...win.attrs, group: c });
    const inputs = [mid, ctx.weight('pointwise_kernel', pw)];
    if (ctx.cfg<boolean>('use_bias', true)) inputs.push(ctx.weight('bias', ctx.stored(2, 'bias', [filters])));
    let y = ctx.node('Conv', inputs, {
      kernel_shape: new Array<number>(r).fill(1),
      strides: new Array<number>(r).fill(1),
      pads: new Array<number>(2 * r).fill(0),
      group: 1,
    });
    y = applyActivation(ctx, y, ctx.config.activation, 1, ctx.keras3);
    return [{ value: y, layout, shape: outShape(x, layout, cfFirst, filters, win.out) }];
  },
  fromIr(group, ctx) {
    const convs = group.nodes.filter((n) => n.opType === 'Conv');
    if (convs.length !== 2) return undefined;
    const [dn, pn] = convs as [Node, Node];
    const dw = ctx.constant(slotOf(dn, 'W'));
    const pw = ctx.constant(slotOf(pn, 'W'));
    if (dw === undefined || pw === undefined) return undefined;
    const g = attrOf(dn, 'group');
    const mult = dw.dims[0]! / g;
    const k = dw.dims.slice(2);
    const r = k.length;
    const weights = [
      { name: 'depthwise_kernel', tensor: permute(dw.reshape([g, mult, ...k]), [...k.map((_, i) => i + 2), 0, 1]) as Tensor },
      { name: 'pointwise_kernel', tensor: permute(pw, [...new Array<number>(r).fill(0).map((_, i) => i + 2), 1, 0]) as Tensor },
    ];
    const b = ctx.constant(slotOf(pn, 'B'));
    if (b !== undefined) weights.push({ name: 'bias', tensor: b });
    return [
      {
        className: group.className,
        name: group.name,
        config: { ...group.config, filters: pw.dims[0]!, depth_multiplier: mult, use_bias: b !== undefined },
        weights,
      },
    ];
  },
};

/**
 * Conv2DTranspose: kernel [kh, kw, out, in] → ConvTranspose W [in, out, kh, kw]. 'same' gives out = in·s: TF pads the
 * equivalent forward conv by max(k_eff − s, 0), extra pixel at the end; when k_eff < s, output_padding = s − k_eff.
 */
export const convTranspose: LayerHandler = {
  toIr(ctx) {
    const { r, layout, cfFirst, x, cin, filters, k, s, d } = convSetup(ctx);
    const op =
      ctx.config.output_padding === undefined || ctx.config.output_padding === null ? undefined : tuple(ctx.config.output_padding, r, 0);
    const kernel = ctx.stored(0, 'kernel', [...k, filters, cin]);
    const w = permute(kernel, [r + 1, r, ...k.map((_, i) => i)]);
    const same = ctx.cfg<string>('padding', 'valid') === 'same';
    const pads: number[] = [];
    const outPad: number[] = [];
    k.forEach((ki, i) => {
      const keff = (ki - 1) * d[i]! + 1;
      const total = same ? keff - s[i]! : 0;
      const begin = total > 0 ? Math.floor(total / 2) : 0;
      pads[i] = begin;
      pads[i + r] = total > 0 ? total - begin : 0;
      outPad[i] = (total < 0 ? -total : 0) + (op?.[i] ?? 0);
    });
    const inputs = [x.value, ctx.weight('kernel', w)];
    if (ctx.cfg<boolean>('use_bias', true)) inputs.push(ctx.weight('bias', ctx.stored(1, 'bias', [filters])));
    const attrs: Record<string, number[] | number> = { kernel_shape: k, strides: s, dilations: d, pads, group: 1 };
    if (outPad.some((p) => p !== 0)) attrs.output_padding = outPad;
    let y = ctx.node('ConvTranspose', inputs, attrs);
    y = applyActivation(ctx, y, ctx.config.activation, 1, ctx.keras3);
    const spatial = spatialDims(x.shape, x.layout, cfFirst).map((n, i) =>
      n === null ? null : same ? n * s[i]! + (op?.[i] ?? 0) : (n - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 + (op?.[i] ?? 0),
    );
    return [{ value: y, layout, shape: outShape(x, layout, cfFirst, filters, spatial) }];
  },
  fromIr(group, ctx) {
    const one = soleConv(group, ctx, 'ConvTranspose');
    if (one === undefined) return undefined;
    const { n, w } = one;
    const r = w.dims.length - 2;
    const weights = [{ name: 'kernel', tensor: permute(w, [...new Array<number>(r).fill(0).map((_, i) => i + 2), 1, 0]) as Tensor }];
    const b = ctx.constant(slotOf(n, 'B'));
    if (b !== undefined) weights.push({ name: 'bias', tensor: b });
    return [
      {
        className: group.className,
        name: group.name,
        config: { ...group.config, filters: w.dims[1]!, use_bias: b !== undefined },
        weights,
      },
    ];
  },
};

/** The group's only node of `opType` with its constant weight, or undefined when there is not exactly one or W is computed. */
function soleConv(group: LayerGroup, ctx: FromIrContext, opType: 'Conv' | 'ConvTranspose'): { n: Node; w: Tensor } | undefined {
  const convs = group.nodes.filter((n) => n.opType === opType);
  if (convs.length !== 1) return undefined;
  const n = convs[0]!;
  const w = ctx.constant(slotOf(n, 'W'));
  return w === undefined ? undefined : { n, w };
}

/**
 * Conv group → Conv layers. One Conv is the layer itself; a chain of Convs (Tucker-2: 1x1 → k×k → 1x1, or any
 * factorisation) becomes one Conv layer per Conv, the last keeping the name, the bias and the activation.
 */
function convChainFromIr(group: LayerGroup, ctx: FromIrContext): KerasLayerOut[] | undefined {
  const convs = group.nodes.filter((n) => n.opType === 'Conv');
  if (convs.length === 0) return undefined;
  const out: KerasLayerOut[] = [];
  for (const [i, n] of convs.entries()) {
    const w = ctx.constant(slotOf(n, 'W'));
    if (w === undefined) return undefined;
    const r = w.dims.length - 2;
    const k = w.dims.slice(2);
    const last = i === convs.length - 1;
    const name = last ? group.name : `${group.name}_factor${i + 1}`;
    const kernel = permute(w, [...k.map((_, j) => j + 2), 1, 0]);
    const b = ctx.constant(slotOf(n, 'B'));
    const strides = n.attrInts('strides') ?? new Array<number>(r).fill(1);
    const dil = n.attrInts('dilations') ?? new Array<number>(r).fill(1);
    const pads = n.attrInts('pads') ?? new Array<number>(2 * r).fill(0);
    const autoPad = attrOf(n, 'auto_pad');
    // TF 'same' pads (k_eff − s .. k_eff − 1) in total, the extra pixel at the end; anything else is not a Keras padding.
    const keff = k.map((x, j) => (x - 1) * dil[j]! + 1);
    const looksSame = k.every((_, j) => {
      const [b, e] = [pads[j]!, pads[j + r]!];
      return e - b >= 0 && e - b <= 1 && b + e <= keff[j]! - 1 && b + e >= keff[j]! - strides[j]!;
    });
    let padding: string;
    if (autoPad.startsWith('SAME')) padding = 'same';
    else if (pads.every((p) => p === 0)) padding = k.every((x) => x === 1) ? String(group.config.padding ?? 'valid') : 'valid';
    else if (looksSame) padding = 'same';
    else return undefined;
    const config = {
      ...group.config,
      name,
      filters: w.dims[0]!,
      kernel_size: k,
      strides,
      dilation_rate: dil,
      padding,
      groups: attrOf(n, 'group'),
      use_bias: b !== undefined,
      activation: last ? (group.config.activation ?? 'linear') : 'linear',
    };
    if (group.config.groups === undefined && config.groups === 1) delete (config as Record<string, unknown>).groups;
    const weights = [{ name: 'kernel', tensor: kernel as Tensor }];
    if (b !== undefined) weights.push({ name: 'bias', tensor: b.dtype === 'float32' ? b : new Tensor('float32', b.dims, toFloat32(b)) });
    out.push({ className: r === 1 ? 'Conv1D' : r === 3 ? 'Conv3D' : 'Conv2D', name, config, weights });
  }
  return out;
}
