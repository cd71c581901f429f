import { type Node, type Shape, Tensor, type Value, attrOf, spatialAttrs } from '@mc/ir';
import { convGeometry, copyForward, known, type OrtRule } from './rule.js';

// Reverse-mode rules of the pooling ops: MaxPool, AveragePool, GlobalAveragePool.

/** Non-overlapping 2-D windows (kernel = strides, no pads/dilation, sizes divisible): the window is a reshape. */
function tiled(node: Node, x: Shape | undefined): { c: number; h: number; w: number; kh: number; kw: number } | undefined {
  const k = node.attrInts('kernel_shape') ?? [];
  const { strides: s, pads, dilations: dil } = spatialAttrs(node, k);
  if (
    x?.length !== 4 ||
    !known(x, 1) ||
    k.length !== 2 ||
    s[0] !== k[0] ||
    s[1] !== k[1] ||
    pads.some((p) => p !== 0) ||
    dil.some((d) => d !== 1)
  )
    return undefined;
  if (attrOf(node, 'auto_pad') !== 'NOTSET' && attrOf(node, 'auto_pad') !== 'VALID') return undefined;
  const [, c, h, w] = x as number[];
  return h! % k[0]! === 0 && w! % k[1]! === 0 ? { c: c!, h: h!, w: w!, kh: k[0]!, kw: k[1]! } : undefined;
}

/**
 * MaxPool. Non-overlapping windows: the gradient goes where X equals its window's max (a reshape, Equal and Where;
 * ties share it as in the wasm engine, and after a ReLU ties are zeros whose gradient ReLU drops). Otherwise the
 * forward also returns the arg-max indices (flat over N·C·H·W) and ScatterElements(add) routes the gradient back.
 */
export const maxPoolRule: OrtRule = {
  trainable: [],
  check(node, inShape) {
    if (attrOf(node, 'storage_order') !== 0) return 'storage_order 1';
    if (node.outputs.length > 1) return 'its Indices output is used';
    if (inShape(0) === undefined) return 'input shape unknown';
    return undefined;
  },
  forward: (ctx) => {
    if (tiled(ctx.node, ctx.inShape(0)) !== undefined) return copyForward(ctx, 1);
    const [y, idx] = copyForward(ctx, 2);
    return [y!, idx!];
  },
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const x = ctx.x(0)!;
    const t = tiled(ctx.node, ctx.inShape(0));
    if (t !== undefined) {
      // Window values back at full size by nearest-neighbour Resize (fast, same-shape elementwise ops after it).
      const up = (v: Value) =>
        e.op('Resize', [v, undefined, e.f32s([1, 1, t.kh, t.kw])], {
          mode: 'nearest',
          coordinate_transformation_mode: 'asymmetric',
          nearest_mode: 'floor',
        });
      const hit = e.op('Equal', [x, up(ctx.y(0))]);
      return [e.op('Where', [hit, up(dy!), e.f32(0)])];
    }
    const flat = e.i64([-1]);
    const zeros = e.op('Reshape', [e.op('Mul', [x, e.f32(0)]), flat]);
    const dx = e.op('ScatterElements', [zeros, e.op('Reshape', [ctx.saved(ctx.node.outputs.length)!, flat]), e.op('Reshape', [dy, flat])], {
      reduction: 'add',
    });
    return [e.reshapeLike(dx, x)];
  },
};

/**
 * AveragePool (2-D): dX = ConvTranspose(dY / count, ones) per channel (group = C); the count is kh·kw, or with
 * count_include_pad = 0 the real elements of each window (an AveragePool of ones over the spatial plane, times kh·kw).
 */
export const avgPoolRule: OrtRule = {
  trainable: [],
  check(node, inShape) {
    const x = inShape(0);
    if (x?.length !== 4 || !known(x, 1)) return 'needs a 2-D pool with known channels and spatial size';
    if (attrOf(node, 'ceil_mode') === 1) return 'ceil_mode 1';
    if ((attrOf(node, 'dilations') ?? []).some((d) => d !== 1)) return 'dilations';
    return undefined;
  },
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e, node } = ctx;
    const [, c, h, w] = ctx.inShape(0) as number[];
    const kernel = node.attrInts('kernel_shape')!;
    const { k, strides, pads, out } = convGeometry(node, ctx.inShape(0)!, [c!, 1, ...kernel]);
    const kk = k[0]! * k[1]!;
    const ones = (dims: number[]) =>
      ctx.e.b.initializer(
        ctx.e.b.graph.uniqueName('mc_ones'),
        new Tensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1)),
      );
    let scaled: Value;
    if (attrOf(node, 'count_include_pad') === 1 || pads.every((p) => p === 0)) scaled = e.scale(dy!, 1 / kk);
    else {
      const share = e.op('AveragePool', [ones([1, 1, h!, w!])], { kernel_shape: k, strides, pads, count_include_pad: 1 });
      scaled = e.op('Div', [dy!, e.scale(share, kk)]);
    }
    const outPad = [h!, w!].map((d, i) => d - ((out[i]! - 1) * strides[i]! + k[i]! - pads[i]! - pads[i + 2]!));
    return [
      e.op('ConvTranspose', [scaled, ones([c!, 1, k[0]!, k[1]!])], { kernel_shape: k, strides, pads, output_padding: outPad, group: c! }),
    ];
  },
};

export const globalAvgPoolRule: OrtRule = {
  trainable: [],
  check: (_n, inShape) => (known(inShape(0), 2) ? undefined : 'input spatial size unknown'),
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const sp = (ctx.inShape(0)!.slice(2) as number[]).reduce((a, b) => a * b, 1);
    return [ctx.e.op('Expand', [ctx.e.scale(dy!, 1 / sp), ctx.e.op('Shape', [ctx.x(0)!])])];
  },
};
