import type { Shape } from '../types.js';
import { convOutDim, spatialAttrs } from './conv.js';
import { defineOp, int, numel, type OpInfo, type ShapeContext, spatialAttrSpecs } from './define.js';

function poolShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  const kernel = ctx.node.attrInts('kernel_shape');
  if (x === undefined || kernel === undefined) return [undefined];
  const { strides, dilations, pads, autoPad } = spatialAttrs(ctx.node, kernel);
  const ceil = ctx.node.attrInt('ceil_mode', 0) === 1;
  const spatial = kernel.map((k, i) =>
    convOutDim(x[i + 2] ?? null, k, strides[i]!, dilations[i]!, pads[i]!, pads[i + kernel.length]!, autoPad, ceil),
  );
  const y: Shape = [x[0] ?? null, x[1] ?? null, ...spatial];
  return ctx.node.opType === 'MaxPool' ? [y, y] : [y];
}

function globalShape(ctx: ShapeContext): (Shape | undefined)[] {
  const x = ctx.shapes[0];
  return [x === undefined ? undefined : [x[0] ?? null, x[1] ?? null, ...x.slice(2).map(() => 1)]];
}

/** Pooling: channels pass through unchanged. MACs count one add/compare per window element. */
export const poolOps: OpInfo[] = [
  ...['MaxPool', 'AveragePool', 'LpPool'].map((opType) =>
    defineOp({
      opType,
      inputs: ['X'],
      // https://onnx.ai/onnx/operators/onnx__AveragePool.html, onnx__MaxPool.html, onnx__LpPool.html
      attrs: {
        ...spatialAttrSpecs,
        ceil_mode: int(0),
        ...(opType === 'AveragePool' && { count_include_pad: int(0) }),
        ...(opType === 'MaxPool' && { storage_order: int(0) }),
        ...(opType === 'LpPool' && { p: int(2) }),
      },
      channels: 'passthrough',
      inferShape: poolShape,
      macs: (node, _ins, outs) => numel(outs[0]) * node.attrInts('kernel_shape', []).reduce((a, b) => a * b, 1),
    }),
  ),
  ...['GlobalAveragePool', 'GlobalMaxPool', 'GlobalLpPool'].map((opType) =>
    defineOp({
      opType,
      inputs: ['X'],
      ...(opType === 'GlobalLpPool' && { attrs: { p: int(2) } }),
      channels: 'passthrough',
      inferShape: globalShape,
      macs: (_n, ins) => numel(ins[0]),
    }),
  ),
];
