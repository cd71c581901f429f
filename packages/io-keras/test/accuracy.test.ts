import { describe, expect, test } from 'vitest';
import { readKeras, type KerasSource } from '../src/index.js';
import { accuracy, cifarTest, KERAS_DIR, mnistTest, runOrt, SKIP_SHARED, SHARED_NOTE } from './helpers.js';

/** Accuracies in ../shared/models/keras/README.md (measured there with an independent forward pass), through ORT. */
const MNIST: [string, KerasSource, number][] = [
  ['LeNet (Keras 2.1.6 Sequential + InputLayer)', `${KERAS_DIR}tensorspace/lenet_mnist.h5`, 98.66],
  ['LeNet (Keras 2.2.2 Sequential, no InputLayer)', `${KERAS_DIR}tensorspace/lenet_mnist_seq.h5`, 97.55],
  ['LeNet (tf.keras 2.1.6-tf)', `${KERAS_DIR}tensorspace/lenet_mnist_tfkeras.h5`, 98.63],
  [
    'LeNet (architecture JSON + save_weights h5)',
    {
      architecture: `${KERAS_DIR}tensorspace/lenet_mnist_separated/topology.json`,
      weights: `${KERAS_DIR}tensorspace/lenet_mnist_separated/weights.h5`,
    },
    98.66,
  ],
  ['LeNet (TF.js layers, 7 outputs: the last)', `${KERAS_DIR}tfjs/tensorspace_lenet_mnist_layers/model.json`, 98.66],
  ['simple convnet (Keras 3 legacy .h5)', `${KERAS_DIR}moonflower/mnist_convnet.h5`, 99.28],
  ['simple convnet (Keras 3 .keras)', `${KERAS_DIR}moonflower/mnist_convnet.keras`, 99.18],
];

describe.skipIf(SKIP_SHARED !== false)(`accuracy through onnxruntime-node on real data${SHARED_NOTE}`, () => {
  const mnist = SKIP_SHARED === false ? mnistTest() : undefined;
  for (const [label, src, want] of MNIST) {
    test(`${label}: MNIST top-1 = ${want} %`, async () => {
      const { model } = await readKeras(src);
      const input = model.graph.inputs[0]!;
      const dims = [mnist!.n, ...input.shape!.slice(1).map(Number)];
      const out = await runOrt(model, { [input.name]: { data: mnist!.x, dims } });
      const last = model.graph.outputs[model.graph.outputs.length - 1]!.name;
      expect(accuracy(out[last]!.data, mnist!.y, 10)).toBeCloseTo(want, 2);
    });
  }

  test('ResNet8 (MLPerf Tiny, Functional with residual Add): CIFAR-10 top-1 = 88.1 % on 1,000 test images', async () => {
    const { model } = await readKeras(`${KERAS_DIR}mlperf-tiny/resnet8_cifar10.h5`);
    const c = cifarTest();
    const out = await runOrt(model, { [model.graph.inputs[0]!.name]: { data: c.x, dims: [c.n, 32, 32, 3] } });
    expect(accuracy(out[model.graph.outputs[0]!.name]!.data, c.y, 10)).toBeCloseTo(88.1, 1);
  });
});
