import { biasOf, ModelBuilder, paramsOf, Tensor, weightOf, type Model } from '@mc/ir';

/** Options of the reference architectures. */
export interface ArchitectureOptions {
  /** Seed of the Glorot-uniform initialisation. Default 0. */
  seed?: number;
  /** ONNX opset. Default 17. */
  opset?: number;
}

function glorot(dims: number[], fanIn: number, fanOut: number, rnd: () => number): Tensor<'float32'> {
  // Keras's default initialiser: U(−l, l), l = √(6 / (fan_in + fan_out)) (Glorot & Bengio 2010).
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const n = dims.reduce((a, b) => a * b, 1);
  return new Tensor(
    'float32',
    dims,
    Float32Array.from({ length: n }, () => (2 * rnd() - 1) * limit),
  );
}

function rng(seed: number): () => number {
  let a = (seed >>> 0) ^ 0x2545f491;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const zeros = (n: number) => new Tensor('float32', [n], new Float32Array(n));

/**
 * The Keras `mnist_cnn` example architecture as an untrained IR model (NCHW input [N, 1, 28, 28]):
 * Conv32-3×3-ReLU, Conv64-3×3-ReLU, MaxPool 2, Dropout .25, Flatten, Dense128-ReLU, Dropout .5, Dense10-Softmax.
 *
 * @example
 * ```ts
 * const { model } = await finetune(mnistCnn({ seed: 1 }), await loadMnist(dir), { epochs: 1, batchSize: 128 });
 * ```
 */
export function mnistCnn(opts: ArchitectureOptions = {}): Model {
  const r = rng(opts.seed ?? 0);
  const b = new ModelBuilder({ opset: opts.opset ?? 17 });
  const x = b.input('input', 'float32', ['N', 1, 28, 28]);
  let h = b.node(
    'Conv',
    [x, b.initializer('conv1.weight', glorot([32, 1, 3, 3], 9, 288, r)), b.initializer('conv1.bias', zeros(32))],
    { kernel_shape: [3, 3] },
    { name: 'conv1' },
  );
  h = b.node('Relu', [h]);
  h = b.node(
    'Conv',
    [h, b.initializer('conv2.weight', glorot([64, 32, 3, 3], 288, 576, r)), b.initializer('conv2.bias', zeros(64))],
    { kernel_shape: [3, 3] },
    { name: 'conv2' },
  );
  h = b.node('Relu', [h]);
  h = b.node('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  h = b.node('Dropout', [h, b.initializer('dropout1.ratio', new Tensor('float32', [], new Float32Array([0.25])))]);
  h = b.node('Flatten', [h]);
  h = b.node(
    'Gemm',
    [h, b.initializer('dense1.weight', glorot([128, 9216], 9216, 128, r)), b.initializer('dense1.bias', zeros(128))],
    { transB: 1 },
    { name: 'dense1' },
  );
  h = b.node('Relu', [h]);
  h = b.node('Dropout', [h, b.initializer('dropout2.ratio', new Tensor('float32', [], new Float32Array([0.5])))]);
  h = b.node(
    'Gemm',
    [h, b.initializer('dense2.weight', glorot([10, 128], 128, 10, r)), b.initializer('dense2.bias', zeros(10))],
    { transB: 1 },
    { name: 'dense2' },
  );
  b.output(b.node('Softmax', [h], { axis: -1 }), 'probs');
  return b.build();
}

/**
 * A ReLU MLP classifier over flat inputs, e.g. `mlp([784, 800, 800, 10])` (Hinton et al. 2015's MNIST nets).
 * Output: logits (no Softmax). Hidden layers may get dropout.
 *
 * @example
 * ```ts
 * const student = mlp([784, 64, 10], { seed: 2 });
 * ```
 */
export function mlp(sizes: readonly number[], opts: ArchitectureOptions & { dropout?: number } = {}): Model {
  const r = rng(opts.seed ?? 0);
  const b = new ModelBuilder({ opset: opts.opset ?? 17 });
  let h = b.input('input', 'float32', ['N', sizes[0]!]);
  for (let i = 1; i < sizes.length; i++) {
    const [fi, fo] = [sizes[i - 1]!, sizes[i]!];
    h = b.node(
      'Gemm',
      [h, b.initializer(`fc${i}.weight`, glorot([fo, fi], fi, fo, r)), b.initializer(`fc${i}.bias`, zeros(fo))],
      { transB: 1 },
      { name: `fc${i}` },
    );
    if (i < sizes.length - 1) {
      h = b.node('Relu', [h]);
      if ((opts.dropout ?? 0) > 0)
        h = b.node('Dropout', [h, b.initializer(`drop${i}.ratio`, new Tensor('float32', [], new Float32Array([opts.dropout!])))]);
    }
  }
  b.output(h, 'logits');
  return b.build();
}

/**
 * A small LeNet-style CNN for [N, 1, 28, 28] inputs: Conv 5×5 → ReLU → MaxPool 2 → Conv 5×5 → ReLU → MaxPool 2 →
 * Dense → ReLU → Dense (logits). Cheap to train on wasm (about 20× fewer MACs than mnist_cnn), ~99% on MNIST.
 *
 * @example
 * ```ts
 * const teacher = lenet({ seed: 1, channels: [16, 32], dense: 128 });
 * ```
 */
export function lenet(opts: ArchitectureOptions & { channels?: readonly [number, number]; dense?: number } = {}): Model {
  const r = rng(opts.seed ?? 0);
  const [c1, c2] = opts.channels ?? [8, 16];
  const d = opts.dense ?? 64;
  const b = new ModelBuilder({ opset: opts.opset ?? 17 });
  const x = b.input('input', 'float32', ['N', 1, 28, 28]);
  let h = b.node(
    'Conv',
    [x, b.initializer('conv1.weight', glorot([c1, 1, 5, 5], 25, c1 * 25, r)), b.initializer('conv1.bias', zeros(c1))],
    { kernel_shape: [5, 5] },
    { name: 'conv1' },
  );
  h = b.node('MaxPool', [b.node('Relu', [h])], { kernel_shape: [2, 2], strides: [2, 2] });
  h = b.node(
    'Conv',
    [h, b.initializer('conv2.weight', glorot([c2, c1, 5, 5], c1 * 25, c2 * 25, r)), b.initializer('conv2.bias', zeros(c2))],
    { kernel_shape: [5, 5] },
    { name: 'conv2' },
  );
  h = b.node('Flatten', [b.node('MaxPool', [b.node('Relu', [h])], { kernel_shape: [2, 2], strides: [2, 2] })]);
  h = b.node(
    'Gemm',
    [h, b.initializer('dense1.weight', glorot([d, c2 * 16], c2 * 16, d, r)), b.initializer('dense1.bias', zeros(d))],
    { transB: 1 },
    { name: 'dense1' },
  );
  h = b.node('Relu', [h]);
  h = b.node(
    'Gemm',
    [h, b.initializer('dense2.weight', glorot([10, d], d, 10, r)), b.initializer('dense2.bias', zeros(10))],
    { transB: 1 },
    { name: 'dense2' },
  );
  b.output(h, 'logits');
  return b.build();
}

/**
 * The same architecture with fresh weights, for training it from scratch (the control that shows what a compressed
 * model keeps that training alone cannot): every Conv/ConvTranspose/Gemm/MatMul weight redrawn Glorot-uniform (Keras's
 * default; fan-in and fan-out over the receptive field and per group), biases zero, BatchNormalization γ = 1, β = 0,
 * running mean 0 and variance 1. Other constants (shapes, axes, ...) are left as they are. The input is not changed.
 *
 * @example
 * ```ts
 * const scratch = reinitialize(prunedModel, { seed: 1 });
 * const { model } = await finetune(scratch, train, { epochs: 10 });
 * ```
 */
export function reinitialize(model: Model, opts: { seed?: number } = {}): Model {
  const out = model.clone();
  const r = rng(opts.seed ?? 0);
  const filled = (dims: readonly number[], v: number) =>
    new Tensor('float32', [...dims], new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(v));
  for (const node of out.graph.nodes) {
    const w = weightOf(node);
    if (w?.tensor !== undefined && w.tensor.dtype === 'float32') {
      const d = w.tensor.dims;
      const receptive = d.reduce((a, b, i) => (i === w.outAxis || i === w.inAxis ? a : a * b), 1);
      // As Keras and PyTorch compute them: from the stored dims (a grouped Conv's in-axis is per group already).
      w.value.constValue = glorot([...d], d[w.inAxis]! * receptive, d[w.outAxis]! * receptive, r);
      const b = biasOf(node);
      if (b?.tensor !== undefined) b.value.constValue = filled(b.tensor.dims, 0);
    }
    if (node.opType === 'BatchNormalization') {
      for (const [name, v] of paramsOf(node)) {
        if (v.constValue === undefined) continue;
        v.constValue = filled(v.constValue.dims, name === 'scale' || name === 'input_var' ? 1 : 0);
      }
    }
  }
  out.graph.touch();
  return out;
}
