import { describe, expect, it } from 'vitest';
import {
  ModelBuilder,
  Tensor,
  float32Tensor,
  int64Tensor,
  modelStats,
  weightOf,
  biasOf,
  opInfo,
  inferShapes,
  floatToHalf,
  halfToFloat,
  floatToBfloat16,
  bfloat16ToFloat,
} from './index.js';
import { randomTensor } from './testing/index.js';

describe('op facts and shapes', () => {
  it('Conv weight axes, shapes and MACs', () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 3, 32, 32]);
    const w = b.initializer('w', randomTensor('float32', [8, 3, 3, 3], 1));
    const bias = b.initializer('b', randomTensor('float32', [8], 2));
    const y = b.node('Conv', [x, w, bias], { pads: [1, 1, 1, 1], strides: [2, 2] });
    const p = b.node('MaxPool', [y], { kernel_shape: [2, 2], strides: [2, 2] });
    const f = b.node('Flatten', [p]);
    const g = b.initializer('g', randomTensor('float32', [10, 512], 3));
    const out = b.node('Gemm', [f, g], { transB: 1 });
    b.output(out, 'out');
    const m = b.build();
    inferShapes(m);
    expect(y.shape).toEqual([1, 8, 16, 16]);
    expect(p.shape).toEqual([1, 8, 8, 8]);
    expect(f.shape).toEqual([1, 512]);
    expect(out.shape).toEqual([1, 10]);
    const conv = m.graph.nodes[0]!;
    expect(weightOf(conv)).toMatchObject({ outAxis: 0, inAxis: 1, group: 1, index: 1 });
    expect(biasOf(conv)?.value).toBe(bias);
    const gemm = m.graph.nodes[3]!;
    expect(weightOf(gemm)).toMatchObject({ outAxis: 0, inAxis: 1 });
    const s = modelStats(m);
    expect(s.params).toBe(8 * 27 + 8 + 5120);
    expect(s.macs).toBe(8 * 16 * 16 * 27 + 8 * 8 * 8 * 4 + 10 * 512);
    expect(opInfo({ opType: 'LSTM', domain: '' })).toBeUndefined();
  });

  it('Reshape with a constant target and -1', () => {
    const b = new ModelBuilder();
    const x = b.input('x', 'float32', [2, 3, 4]);
    const s = b.initializer('s', int64Tensor([2], [0, -1]));
    const y = b.node('Reshape', [x, s]);
    b.output(y);
    inferShapes(b.build());
    expect(y.shape).toEqual([2, 12]);
  });

  it('MACs are per sample when the batch is symbolic, and the model is left as it was', () => {
    const b = new ModelBuilder();
    const x = b.input('x', 'float32', ['batch', 8]);
    const w = b.initializer('w', float32Tensor([8, 4], new Float32Array(32)));
    const y = b.node('MatMul', [x, w]);
    b.output(y, 'y', { dtype: 'float32', shape: ['batch', 4] });
    const m = b.build();
    expect(modelStats(m).macs).toBe(32);
    expect(m.graph.outputs[0]!.shape).toEqual(['batch', 4]);
  });

  it('MatMul weight only when B is constant', () => {
    const b = new ModelBuilder();
    const x = b.input('x', 'float32', ['batch', 4]);
    const z = b.input('z', 'float32', [4, 2]);
    const w = b.initializer('w', float32Tensor([4, 2], new Float32Array(8)));
    b.output(b.node('MatMul', [x, w]));
    b.output(b.node('MatMul', [x, z]));
    const m = b.build();
    inferShapes(m);
    expect(weightOf(m.graph.nodes[0]!)).toMatchObject({ outAxis: 1, inAxis: 0 });
    expect(weightOf(m.graph.nodes[1]!)).toBeUndefined();
    expect(m.graph.outputs[0]!.shape).toEqual(['batch', 2]);
  });

  it('float16 and bfloat16 round trip with round-to-nearest-even', () => {
    for (const v of [0, 1, -2.5, 65504, 6.1e-5, 5.96e-8, 0.1, 1e-3]) {
      expect(halfToFloat(floatToHalf(v))).toBeCloseTo(v, 3);
    }
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(bfloat16ToFloat(floatToBfloat16(3.140625))).toBe(3.140625);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });
});

describe('quantized forms keep shapes and MACs', () => {
  it('Conv fed by DequantizeLinear counts the same MACs as the float Conv', () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['N', 3, 8, 8]);
    const wq = b.initializer('wq', new Tensor('int8', [4, 3, 3, 3], new Int8Array(108)));
    const s = b.initializer('s', float32Tensor([4], [1, 1, 1, 1]));
    const w = b.node('DequantizeLinear', [wq, s], { axis: 0 });
    const y = b.node('Conv', [x, w], { pads: [1, 1, 1, 1] });
    b.output(y, 'y');
    const m = b.build();
    expect(modelStats(m).macs).toBe(4 * 8 * 8 * 27);
  });
});
