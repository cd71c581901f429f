import type { Node } from '../node.js';
import { dimAdd, dimDiv, dimSub } from '../symbolic.js';
import type { Dim, Shape } from '../types.js';
import { defineOp, int, ints, numel, type OpInfo, type ShapeContext, spatialAttrSpecs } from './define.js';

/**
 * Output size of one spatial axis of Conv/pooling (https://onnx.ai/onnx/operators/onnx__Conv.html):
 * floor((in + padBegin + padEnd - dilation*(k-1) - 1) / stride) + 1, or ceil(in/stride) for SAME_* auto_pad. A symbolic
 * size gives the same formula as an expression ('height' stays 'height' for a padded 3×3).
 */
export function convOutDim(
  inDim: Dim,
  k: number,
  stride: number,
  dilation: number,
  padBegin: number,
  padEnd: number,
  autoPad: string,
  ceilMode = false,
): Dim {
  if (inDim === null) return null;
  // ceil(a / s) = floor((a + s - 1) / s) for whole a
  const ceilDiv = (a: Dim, s: number): Dim => dimDiv(dimAdd(a, s - 1), s);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return ceilDiv(inDim, stride);
  const span = dilation * (k - 1) + 1;
  const room = autoPad === 'VALID' ? dimSub(inDim, span) : dimAdd(inDim, padBegin + padEnd - span);
  return dimAdd(ceilMode ? ceilDiv(room, stride) : dimDiv(room, stride), 1);
}

/** Spatial attributes of a Conv/pool node with spec defaults filled in. */
export function spatialAttrs(
  node: Node,
  kernel: readonly number[],
): { strides: number[]; dilations: number[]; pads: number[]; autoPad: string } {
  const r = kernel.length;
  return {
    strides: node.attrInts('strides', Array(r).fill(1)),
    dilations: node.attrInts('dilations', Array(r).fill(1)),
    pads: node.attrInts('pads', Array(2 * r).fill(0)),
    autoPad: node.attrString('auto_pad', 'NOTSET'),
  };
}

/**
 * Begin and end pads of one spatial axis under `auto_pad` SAME_UPPER/SAME_LOWER (https://onnx.ai/onnx/operators/onnx__Conv.html):
 * out = ceil(in / stride), total = max((out - 1)·stride + (k - 1)·dilation + 1 - in, 0); SAME_UPPER puts the odd pad
 * at the end (TF/Keras 'same'), SAME_LOWER at the beginning.
 *
 * @example
 * ```ts
 * samePads(5, 2, 1, 1, 'SAME_UPPER'); // { begin: 0, end: 1, out: 5 }
 * ```
 */
export function samePads(
  inDim: number,
  k: number,
  stride: number,
  dilation: number,
  autoPad: 'SAME_UPPER' | 'SAME_LOWER' = 'SAME_UPPER',
): { begin: number; end: number; out: number } {
  const out = Math.ceil(inDim / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - inDim, 0);
  const small = Math.floor(total / 2);
  return autoPad === 'SAME_UPPER' ? { begin: small, end: total - small, out } : { begin: total - small, end: small, out };
}

/**
 * Explicit pads `[b1, …, bn, e1, …, en]` of a Conv/pool node with `auto_pad` resolved: VALID is zeros, SAME_* follows
 * {@link samePads} (needs the spatial input sizes), NOTSET is the `pads` attribute. Strides and dilations come back
 * with their defaults filled in (`dilations` overrides the node's where given).
 *
 * @example
 * ```ts
 * resolvePads(conv, [32, 32], [3, 3]).pads; // [1, 1, 1, 1] for a 3×3 SAME_UPPER stride-1 Conv
 * ```
 */
export function resolvePads(
  node: Node,
  inSpatial: readonly number[],
  kernel: readonly number[],
  dilations?: readonly number[],
): { pads: number[]; strides: number[]; dilations: number[]; autoPad: string } {
  const a = spatialAttrs(node, kernel);
  const dil = dilations === undefined ? a.dilations : [...dilations];
  const r = kernel.length;
  const pads = [...a.pads];
  if (a.autoPad === 'VALID') pads.fill(0);
  if (a.autoPad === 'SAME_UPPER' || a.autoPad === 'SAME_LOWER') {
    for (let i = 0; i < r; i++) {
      const p = samePads(inSpatial[i]!, kernel[i]!, a.strides[i]!, dil[i]!, a.autoPad);
      pads[i] = p.begin;
      pads[i + r] = p.end;
    }
  }
  return { pads, strides: a.strides, dilations: dil, autoPad: a.autoPad };
}

function convShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const w = ctx.shapes[1];
  if (x === undefined || w === undefined) return [undefined];
  const kernel = ctx.node.attrInts('kernel_shape') ?? w.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  if (kernel.some((k) => Number.isNaN(k))) return [undefined];
  const { strides, dilations, pads, autoPad } = spatialAttrs(ctx.node, kernel);
  const spatial = kernel.map((k, i) =>
    convOutDim(x[i + 2] ?? null, k, strides[i]!, dilations[i]!, pads[i]!, pads[i + kernel.length]!, autoPad),
  );
  return [[x[0] ?? null, w[0] ?? null, ...spatial]];
}

function convTransposeShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const w = ctx.shapes[1];
  if (x === undefined || w === undefined) return [undefined];
  const group = ctx.node.attrInt('group', 1);
  const kernel = ctx.node.attrInts('kernel_shape') ?? w.slice(2).map((d) => (typeof d === 'number' ? d : NaN));
  const outC = typeof w[1] === 'number' ? w[1] * group : null;
  const given = ctx.node.attrInts('output_shape');
  if (given !== undefined) return [[x[0] ?? null, outC, ...given]];
  const { strides, dilations, pads, autoPad } = spatialAttrs(ctx.node, kernel);
  const outPad = ctx.node.attrInts('output_padding', Array(kernel.length).fill(0));
  const spatial = kernel.map((k, i) => {
    const d = x[i + 2];
    if (typeof d !== 'number') return null;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return d * strides[i]!;
    return strides[i]! * (d - 1) + outPad[i]! + (k - 1) * dilations[i]! + 1 - pads[i]! - pads[i + kernel.length]!;
  });
  return [[x[0] ?? null, outC, ...spatial]];
}

/** Weights one element meets: numel(W) / W[0] (Conv: (C/group)·prod(k); ConvTranspose: (M/group)·prod(k)). */
function weightsPerElement(w: Shape | undefined): number {
  return numel(w) / (typeof w?.[0] === 'number' ? w[0] : NaN);
}

/** Conv: every output element costs (C/group)·prod(kernel) multiply-adds. */
const convMacs = (_node: Node, ins: (Shape | undefined)[], outs: (Shape | undefined)[]): number =>
  numel(outs[0]) * weightsPerElement(ins[1]);

/** ConvTranspose: every input element scatters into (M/group)·prod(kernel) outputs. */
const convTransposeMacs = (_node: Node, ins: (Shape | undefined)[]): number => numel(ins[0]) * weightsPerElement(ins[1]);

/** Convolutions. */
export const convOps: OpInfo[] = [
  defineOp({
    opType: 'Conv',
    inputs: ['X', 'W', 'B?'],
    attrs: { ...spatialAttrSpecs, group: int(1) },
    params: { weight: { input: 'W', outAxis: 0, inAxis: 1, groupAttr: 'group' }, bias: { input: 'B' } },
    channels: 'producer',
    inferShape: convShape,
    macs: convMacs,
  }),
  defineOp({
    opType: 'ConvTranspose',
    inputs: ['X', 'W', 'B?'],
    attrs: { ...spatialAttrSpecs, group: int(1), output_padding: ints(), output_shape: ints() },
    params: { weight: { input: 'W', outAxis: 1, inAxis: 0, groupAttr: 'group' }, bias: { input: 'B' } },
    channels: 'producer',
    inferShape: convTransposeShape,
    macs: convTransposeMacs,
  }),
];
