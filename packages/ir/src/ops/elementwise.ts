import type { Shape } from '../types.js';
import { defineOp, type OpInfo, type ShapeContext } from './define.js';

/** Numpy-style broadcast of shapes (https://onnx.ai/onnx/repo-docs/Broadcasting.html). */
export function broadcastShapes(shapes: (Shape | undefined)[]): Shape | undefined {
  if (shapes.some((s) => s === undefined)) return undefined;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: (number | string | null)[] = [];
  for (let i = 0; i < rank; i++) {
    let d: number | string | null = 1;
    for (const s of shapes as Shape[]) {
      const k = s[s.length - rank + i];
      if (k === undefined || k === 1) continue;
      if (d === 1) d = k;
      else if (d !== k) d = typeof d === 'number' && typeof k === 'number' ? d : null;
    }
    out.push(d);
  }
  return out;
}

const same = (ctx: ShapeContext): (Shape | undefined)[] => [ctx.shapes[0]];
const broadcast = (ctx: ShapeContext): (Shape | undefined)[] => [broadcastShapes(ctx.shapes)];

const binary = ['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean'].map((opType) =>
  defineOp({ opType, inputs: opType === 'Max' || opType === 'Min' || opType === 'Sum' || opType === 'Mean' ? ['...data_0'] : ['A', 'B'], channels: 'elementwise', inferShape: broadcast }),
);

const compare = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor'].map((opType) =>
  defineOp({ opType, inputs: ['A', 'B'], inferShape: broadcast, inferDType: () => ['bool'] }),
);

const unary = ['Abs', 'Neg', 'Exp', 'Log', 'Sqrt', 'Reciprocal', 'Floor', 'Ceil', 'Round', 'Sign', 'Erf', 'Not', 'Sin', 'Cos'].map((opType) =>
  defineOp({ opType, inputs: ['X'], channels: 'passthrough', inferShape: same }),
);

/** Elementwise arithmetic and comparison ops. */
export const elementwiseOps: OpInfo[] = [
  ...binary,
  ...compare,
  ...unary,
  defineOp({ opType: 'Where', inputs: ['condition', 'X', 'Y'], inferShape: broadcast, inferDType: (c) => [c.dtypes[1]] }),
  defineOp({ opType: 'Identity', inputs: ['input'], channels: 'passthrough', inferShape: same }),
  defineOp({ opType: 'Cast', inputs: ['input'], channels: 'passthrough', inferShape: same }),
];
