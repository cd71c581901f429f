import { attr, type Model, ModelBuilder, type Tensor } from '@mc/ir';
import { randomTensor } from '@mc/ir/testing';

/** Dense weights with a decaying spectrum, like trained ones (Gaussian weights are nearly full-rank). */
export function lowRankish(dims: number[], seed: number): Tensor {
  const t = randomTensor('float32', dims, seed);
  const d = t.data as Float32Array;
  // Multiply each element by a smooth decaying profile over the last axis and mix in a rank-2 component.
  const last = dims[dims.length - 1]!;
  const rows = d.length / last;
  const a = randomTensor('float32', [rows], seed + 1).data as Float32Array;
  const b = randomTensor('float32', [last], seed + 2).data as Float32Array;
  for (let i = 0; i < rows; i++) for (let j = 0; j < last; j++) d[i * last + j] = 0.2 * d[i * last + j]! + a[i]! * b[j]!;
  return t;
}

/** x[2,64] → MatMul 64x48 → Add → Relu → Gemm(transB=1, 10x48, C, alpha .5, beta 2) */
export function mlp(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [2, 64]);
  const w1 = b.initializer('w1', lowRankish([64, 48], 1));
  const b1 = b.initializer('b1', randomTensor('float32', [48], 3));
  const h = b.node('Relu', [b.node('Add', [b.node('MatMul', [x, w1], {}, { name: 'fc1' }), b1])]);
  const w2 = b.initializer('w2', lowRankish([10, 48], 4));
  const c2 = b.initializer('c2', randomTensor('float32', [10], 5));
  b.output(b.node('Gemm', [h, w2, c2], { transB: 1, alpha: attr.float(0.5), beta: attr.float(2) }, { name: 'fc2' }), 'y');
  return b.build();
}

/** x[1,3,12,12] → Conv 16x3x3x3 s2 p1 +B → Relu → Conv 12x16x3x3 (no bias) → Conv 8x12x3 group 4 passthrough */
export function convnet(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 3, 12, 12]);
  const w1 = b.initializer('c1w', lowRankish([16, 3, 3, 3], 11));
  const b1 = b.initializer('c1b', randomTensor('float32', [16], 12));
  const h = b.node('Relu', [b.node('Conv', [x, w1, b1], { strides: [2, 2], pads: [1, 1, 1, 1] }, { name: 'conv1' })]);
  const w2 = b.initializer('c2w', lowRankish([12, 16, 3, 3], 13));
  const h2 = b.node('Conv', [h, w2], { dilations: [1, 1], auto_pad: 'SAME_UPPER' }, { name: 'conv2' });
  const w3 = b.initializer('c3w', randomTensor('float32', [8, 3, 1, 1], 14));
  b.output(b.node('Conv', [h2, w3], { group: 4 }, { name: 'grouped' }), 'y');
  return b.build();
}

/** x[1,8,20] → Conv1D 24x8x5 + B */
export function conv1d(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 8, 20]);
  const w = b.initializer('w', lowRankish([24, 8, 5], 21));
  const bias = b.initializer('bias', randomTensor('float32', [24], 22));
  b.output(b.node('Conv', [x, w, bias], { pads: [2, 2] }, { name: 'conv1d' }), 'y');
  return b.build();
}
