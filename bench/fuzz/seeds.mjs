// Seed models for the fuzzer: tiny models built here (so the fuzzer needs no data), plus the small real models in
// ../shared/models and examples/models when they are present.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onnxModelType } from './mutate.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(root, '../shared');

function f32(n, k) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 1.7 + k) * 0.5;
  return new Uint8Array(a.buffer);
}

/** A tiny TF.js layers model: Sequential Dense(4→3, relu) → Dense(3→2, softmax). */
function tinyTfjsDense() {
  const json = {
    format: 'layers-model',
    generatedBy: 'keras v2.4.0',
    convertedBy: 'TensorFlow.js Converter v3.0.0',
    modelTopology: {
      keras_version: '2.4.0',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 'tiny_dense',
          layers: [
            { class_name: 'Dense', config: { name: 'd1', trainable: true, batch_input_shape: [null, 4], dtype: 'float32', units: 3, activation: 'relu', use_bias: true } },
            { class_name: 'Dense', config: { name: 'd2', trainable: true, dtype: 'float32', units: 2, activation: 'softmax', use_bias: true } },
          ],
        },
      },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'd1/kernel', shape: [4, 3], dtype: 'float32' },
          { name: 'd1/bias', shape: [3], dtype: 'float32' },
          { name: 'd2/kernel', shape: [3, 2], dtype: 'float32' },
          { name: 'd2/bias', shape: [2], dtype: 'float32' },
        ],
      },
    ],
  };
  const bin = new Uint8Array([...f32(12, 1), ...f32(3, 2), ...f32(6, 3), ...f32(2, 4)]);
  return { 'model.json': new TextEncoder().encode(JSON.stringify(json)), 'group1-shard1of1.bin': bin };
}

/** A tiny functional TF.js model: Input(6,6,1) → Conv2D(2, 3×3) → MaxPooling2D → Flatten → Dense(2), uint8-quantized kernel. */
function tinyTfjsConv() {
  const ref = (n) => [[[n, 0, 0, {}]]];
  const layers = [
    { class_name: 'InputLayer', name: 'x', config: { name: 'x', batch_input_shape: [null, 6, 6, 1], dtype: 'float32' }, inbound_nodes: [] },
    { class_name: 'Conv2D', name: 'c', config: { name: 'c', filters: 2, kernel_size: [3, 3], strides: [1, 1], padding: 'valid', data_format: 'channels_last', activation: 'relu', use_bias: true }, inbound_nodes: ref('x') },
    { class_name: 'MaxPooling2D', name: 'p', config: { name: 'p', pool_size: [2, 2], strides: [2, 2], padding: 'valid', data_format: 'channels_last' }, inbound_nodes: ref('c') },
    { class_name: 'Flatten', name: 'f', config: { name: 'f', data_format: 'channels_last' }, inbound_nodes: ref('p') },
    { class_name: 'Dense', name: 'd', config: { name: 'd', units: 2, activation: 'linear', use_bias: true }, inbound_nodes: ref('f') },
  ];
  const json = {
    format: 'layers-model',
    modelTopology: {
      keras_version: '2.4.0',
      backend: 'tensorflow',
      model_config: { class_name: 'Functional', config: { name: 'tiny_conv', layers, input_layers: [['x', 0, 0]], output_layers: [['d', 0, 0]] } },
    },
    weightsManifest: [
      {
        paths: ['w.bin'],
        weights: [
          { name: 'c/kernel', shape: [3, 3, 1, 2], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.01, min: -0.9, original_dtype: 'float32' } },
          { name: 'c/bias', shape: [2], dtype: 'float32' },
          { name: 'd/kernel', shape: [8, 2], dtype: 'float32' },
          { name: 'd/bias', shape: [2], dtype: 'float32' },
        ],
      },
    ],
  };
  const q = new Uint8Array(18).map((_, i) => (i * 37) % 256);
  // Weights are packed without padding: 18 bytes of uint8 kernel, then the float32 bias at byte offset 18.
  const packed = new Uint8Array([...q, ...f32(2, 5), ...f32(16, 6), ...f32(2, 7)]);
  return { 'model.json': new TextEncoder().encode(JSON.stringify(json)), 'w.bin': packed };
}

const ModelProto = onnxModelType;

const vi = (name, elem, dims) => ({ name, type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } } });
const init = (name, dims, k) => ({ name, dims, data_type: 1, raw_data: f32(dims.reduce((a, b) => a * b, 1), k) });

/** ONNX: MatMul → Add → Relu → Gemm (transB) → Softmax. */
function tinyOnnxMlp() {
  return ModelProto()
    .encode({
      ir_version: 8,
      producer_name: 'mc-fuzz',
      opset_import: [{ domain: '', version: 17 }],
      graph: {
        name: 'mlp',
        node: [
          { op_type: 'MatMul', input: ['x', 'w1'], output: ['h'], name: 'mm' },
          { op_type: 'Add', input: ['h', 'b1'], output: ['h2'], name: 'add' },
          { op_type: 'Relu', input: ['h2'], output: ['h3'], name: 'relu' },
          { op_type: 'Gemm', input: ['h3', 'w2', 'b2'], output: ['z'], name: 'gemm', attribute: [{ name: 'transB', type: 2, i: 1 }] },
          { op_type: 'Softmax', input: ['z'], output: ['y'], name: 'sm', attribute: [{ name: 'axis', type: 2, i: -1 }] },
        ],
        initializer: [init('w1', [8, 6], 1), init('b1', [6], 2), init('w2', [3, 6], 3), init('b2', [3], 4)],
        input: [vi('x', 1, ['N', 8])],
        output: [vi('y', 1, ['N', 3])],
      },
    })
    .finish();
}

/** ONNX: Conv → BatchNormalization → Relu → GlobalAveragePool → Flatten, plus an If whose branches scale or not. */
function tinyOnnxConvIf() {
  const branch = (name, op) => ({
    name,
    node: [{ op_type: op, input: op === 'Identity' ? ['g'] : ['g', 'two'], output: [`${name}_y`], name: `${name}_n` }],
    output: [vi(`${name}_y`, 1, [1, 2])],
  });
  return ModelProto()
    .encode({
      ir_version: 8,
      opset_import: [{ domain: '', version: 17 }],
      graph: {
        name: 'convif',
        node: [
          { op_type: 'Conv', input: ['x', 'w', 'b'], output: ['c'], name: 'conv', attribute: [{ name: 'kernel_shape', type: 7, ints: [3, 3] }, { name: 'pads', type: 7, ints: [1, 1, 1, 1] }] },
          { op_type: 'BatchNormalization', input: ['c', 's', 'bb', 'm', 'v'], output: ['n'], name: 'bn' },
          { op_type: 'Relu', input: ['n'], output: ['r'], name: 'relu' },
          { op_type: 'GlobalAveragePool', input: ['r'], output: ['gp'], name: 'gap' },
          { op_type: 'Flatten', input: ['gp'], output: ['g'], name: 'flat' },
          { op_type: 'If', input: ['cond'], output: ['y'], name: 'if', attribute: [{ name: 'then_branch', type: 5, g: branch('then', 'Mul') }, { name: 'else_branch', type: 5, g: branch('else', 'Identity') }] },
        ],
        initializer: [init('w', [2, 1, 3, 3], 1), init('b', [2], 2), init('s', [2], 3), init('bb', [2], 4), init('m', [2], 5), { ...init('v', [2], 6), raw_data: new Uint8Array(new Float32Array([1, 2]).buffer) }, init('two', [], 7)],
        input: [vi('x', 1, [1, 1, 5, 5]), vi('cond', 9, [])],
        output: [vi('y', 1, [1, 2])],
      },
    })
    .finish();
}

/**
 * Builds the seed set into `dir`. `convert(argv)` runs `mc convert` (the caller's runCli), used to turn the tiny TF.js
 * models into .h5 and .keras seeds with mc's own writers. Returns `{name, format, files: {file: bytes}, main}` entries.
 */
export async function makeSeeds(dir, convert, { shared: useShared = true } = {}) {
  mkdirSync(dir, { recursive: true });
  const seeds = [];
  const add = (name, format, files, main) => seeds.push({ name, format, files, main });
  add('tiny-dense.tfjs', 'tfjs', tinyTfjsDense(), 'model.json');
  add('tiny-conv.tfjs', 'tfjs', tinyTfjsConv(), 'model.json');
  add('tiny-mlp.onnx', 'onnx', { 'model.onnx': tinyOnnxMlp() }, 'model.onnx');
  add('tiny-convif.onnx', 'onnx', { 'model.onnx': tinyOnnxConvIf() }, 'model.onnx');
  for (const s of seeds.filter((x) => x.format === 'tfjs')) {
    const sub = path.join(dir, s.name);
    mkdirSync(sub, { recursive: true });
    for (const [n, b] of Object.entries(s.files)) writeFileSync(path.join(sub, n), b);
    for (const ext of ['h5', 'keras']) {
      const out = path.join(dir, `${s.name.replace('.tfjs', '')}.${ext}`);
      const code = await convert(['convert', path.join(sub, 'model.json'), out]);
      if (code === 0) add(path.basename(out), ext, { [`model.${ext}`]: new Uint8Array(readFileSync(out)) }, `model.${ext}`);
    }
  }
  const file = (p, format) => {
    if (existsSync(p)) add(path.relative(root, p), format, { [`model.${format}`]: new Uint8Array(readFileSync(p)) }, `model.${format}`);
  };
  file(path.join(root, 'examples/models/mnist-mlp.onnx'), 'onnx');
  if (useShared && existsSync(shared)) {
    for (const n of ['hls4ml_conv1d_small_keras.onnx', 'hls4ml_conv2d_small_mp_keras.onnx', 'hls4ml_three_layer_keras.onnx', 'image_classifier32.onnx', 'mnist-cntk-opset8.onnx']) {
      file(path.join(shared, 'models/onnx', n), 'onnx');
    }
    file(path.join(shared, 'models/keras/moonflower/mnist_convnet.h5'), 'h5');
    file(path.join(shared, 'models/keras/moonflower/mnist_convnet.keras'), 'keras');
    file(path.join(shared, 'models/keras/hls4ml/qkeras-v3_3layer.keras'), 'keras');
    file(path.join(shared, 'models/keras/tensorspace/lenet_mnist_tfkeras.h5'), 'h5');
    const tfjsDir = path.join(shared, 'models/keras/tfjs/tensorspace_lenet_mnist_layers');
    if (existsSync(tfjsDir)) {
      const files = Object.fromEntries(readdirSync(tfjsDir).map((n) => [n, new Uint8Array(readFileSync(path.join(tfjsDir, n)))]));
      add('shared/tensorspace_lenet_mnist_layers', 'tfjs', files, 'model.json');
    }
  }
  return seeds;
}
