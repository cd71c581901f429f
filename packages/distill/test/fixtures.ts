import { ArrayDataset } from '@mc/datasets';
import { attr, ModelBuilder, Tensor, type Model } from '@mc/ir';
import { randomTensor } from '@mc/ir/testing';

const w = (dims: number[], seed: number, scale = 0.3) => randomTensor('float32', dims, seed, scale);
const i64 = (v: number[]) => new Tensor('int64', [v.length], BigInt64Array.from(v.map(BigInt)));

/** A CNN touching every conv-side rule: pads, strides, groups, auto_pad, BN, pools with pads, Clip, Gemm, MatMul. */
export function cnnModel(opset = 17): Model {
  const b = new ModelBuilder({ opset });
  const x = b.input('x', 'float32', ['N', 3, 9, 9]);
  let h = b.node('Conv', [x, b.initializer('c1.w', w([4, 3, 3, 3], 1)), b.initializer('c1.b', w([4], 2))], {
    pads: [1, 1, 1, 1],
    strides: [2, 2],
  });
  h = b.node(
    'BatchNormalization',
    [
      h,
      b.initializer('bn.g', w([4], 3, 1)),
      b.initializer('bn.b', w([4], 4)),
      b.initializer('bn.m', w([4], 5)),
      b.initializer('bn.v', new Tensor('float32', [4], new Float32Array([0.5, 1, 2, 1.5]))),
    ],
    { epsilon: attr.float(1e-3) },
  );
  h = b.node('Relu', [h]);
  h = b.node('Conv', [h, b.initializer('c2.w', w([4, 2, 3, 3], 6))], { group: 2, auto_pad: 'SAME_UPPER', kernel_shape: [3, 3] });
  h = b.node('LeakyRelu', [h], { alpha: 0.1 });
  h = b.node('MaxPool', [h], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 0, 0] });
  h = b.node('AveragePool', [h], { kernel_shape: [2, 2], pads: [0, 0, 1, 1], count_include_pad: 0 });
  h = b.node('Add', [h, b.initializer('add.c', w([4, 1, 1], 7))]);
  h = b.node('Mul', [h, b.initializer('mul.c', new Tensor('float32', [], new Float32Array([1.5])))]);
  h = b.node('Clip', [
    h,
    b.initializer('clip.lo', new Tensor('float32', [], new Float32Array([-1]))),
    b.initializer('clip.hi', new Tensor('float32', [], new Float32Array([2]))),
  ]);
  h = b.node('Flatten', [h]);
  h = b.node('Gemm', [h, b.initializer('fc1.w', w([6, 16], 8)), b.initializer('fc1.b', w([6], 9))], { transB: 1 });
  h = b.node('Sigmoid', [h]);
  h = b.node('MatMul', [h, b.initializer('fc2.w', w([6, 5], 10, 1))]);
  h = b.node('Add', [h, b.initializer('fc2.b', w([5], 11))]);
  h = b.node('Tanh', [h]);
  h =
    opset >= 12
      ? b.node('Dropout', [h, b.initializer('drop.r', new Tensor('float32', [], new Float32Array([0.2])))])
      : b.node('Dropout', [h], { ratio: attr.float(0.2) });
  b.output(b.node('Softmax', [h], { axis: 1 }), 'y');
  return b.build();
}

/** A Keras-style graph: NHWC input transposed in, Concat of two conv branches, GlobalAveragePool, Reshape, Sub. */
export function branchyModel(): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', 'float32', ['N', 8, 8, 2]);
  const t = b.node('Transpose', [x], { perm: [0, 3, 1, 2] });
  const a1 = b.node('Relu', [b.node('Conv', [t, b.initializer('a.w', w([3, 2, 1, 1], 21)), b.initializer('a.b', w([3], 22))])]);
  const a2 = b.node('Conv', [t, b.initializer('b.w', w([2, 2, 3, 3], 23))], { pads: [1, 1, 1, 1], dilations: [1, 1] });
  let h = b.node('Concat', [a1, a2], { axis: 1 });
  h = b.node('Sub', [h, b.initializer('sub.c', w([1, 5, 1, 1], 24))]);
  const side = b.node('Reshape', [b.node('Transpose', [h], { perm: [0, 2, 3, 1] }), b.initializer('shape', i64([0, -1]))]);
  const g = b.node('Reshape', [b.node('GlobalAveragePool', [h]), b.initializer('shape2', i64([-1, 5]))]);
  const s1 = b.node('Gemm', [side, b.initializer('s.w', w([320, 4], 25, 0.05))]);
  const s2 = b.node('Gemm', [g, b.initializer('g.w', w([5, 4], 26))]);
  b.output(b.node('Identity', [b.node('Add', [s1, s2])]), 'logits');
  return b.build();
}

/** Random labelled data for a model input. */
export function randomData(shape: number[], n: number, classes: number, seed: number): ArrayDataset {
  const size = shape.reduce((a, c) => a * c, 1);
  const samples = randomTensor('float32', [n * size], seed).data as Float32Array;
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes);
  return new ArrayDataset({ name: 'random', inputShape: shape, numClasses: classes, samples, labels });
}
