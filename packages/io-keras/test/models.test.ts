import { describe, expect, test } from 'vitest';
import { type KerasSource, readKeras } from '../src/index.js';
import { HAVE_SHARED, KERAS_DIR, relErr, runOrt, seeded, SKIP_SHARED, SHARED_NOTE } from './helpers.js';
import { keras2Config, originalConfig, tfjsModel, tfjsRun } from './tfjs-reference.js';

/** Every model in ../shared/models/keras except the QKeras one (opaque layers; tested below). */
const MODELS: [string, KerasSource, 'original' | 'translated'][] = [
  ['tensorspace/lenet_mnist.h5', `${KERAS_DIR}tensorspace/lenet_mnist.h5`, 'original'],
  ['tensorspace/lenet_mnist_seq.h5', `${KERAS_DIR}tensorspace/lenet_mnist_seq.h5`, 'original'],
  ['tensorspace/lenet_mnist_tfkeras.h5', `${KERAS_DIR}tensorspace/lenet_mnist_tfkeras.h5`, 'original'],
  [
    'tensorspace/lenet_mnist_separated',
    {
      architecture: `${KERAS_DIR}tensorspace/lenet_mnist_separated/topology.json`,
      weights: `${KERAS_DIR}tensorspace/lenet_mnist_separated/weights.h5`,
    },
    'original',
  ],
  ['tfjs/tensorspace_lenet_mnist_layers', `${KERAS_DIR}tfjs/tensorspace_lenet_mnist_layers/model.json`, 'original'],
  ['tfjs/tensorspace_lenet_tfjs_native', `${KERAS_DIR}tfjs/tensorspace_lenet_tfjs_native/mnist.json`, 'original'],
  ['moonflower/mnist_convnet.h5 (Keras 3)', `${KERAS_DIR}moonflower/mnist_convnet.h5`, 'translated'],
  ['moonflower/mnist_convnet.keras (Keras 3)', `${KERAS_DIR}moonflower/mnist_convnet.keras`, 'translated'],
  ['mlperf-tiny/resnet8_cifar10.h5', `${KERAS_DIR}mlperf-tiny/resnet8_cifar10.h5`, 'original'],
  ['mlperf-tiny/vww_96.h5', `${KERAS_DIR}mlperf-tiny/vww_96.h5`, 'original'],
  ['mlperf-tiny/ad01_toycar_autoencoder.h5', `${KERAS_DIR}mlperf-tiny/ad01_toycar_autoencoder.h5`, 'original'],
  ['mlperf-tiny/str_ww_ref_model.h5', `${KERAS_DIR}mlperf-tiny/str_ww_ref_model.h5`, 'original'],
  [
    'hls4ml/KERAS_3layer',
    { architecture: `${KERAS_DIR}hls4ml/KERAS_3layer.json`, weights: `${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5` },
    'original',
  ],
  [
    'hls4ml/KERAS_3layer_batch_norm',
    { architecture: `${KERAS_DIR}hls4ml/KERAS_3layer_batch_norm.json`, weights: `${KERAS_DIR}hls4ml/KERAS_3layer_batch_norm_weights.h5` },
    'original',
  ],
  [
    'hls4ml/jetTagger_Conv2D_Small',
    { architecture: `${KERAS_DIR}hls4ml/jetTagger_Conv2D_Small.json`, weights: `${KERAS_DIR}hls4ml/jetTagger_Conv2D_Small_weights.h5` },
    'original',
  ],
];

describe.skipIf(SKIP_SHARED !== false)(
  `every ../shared/models/keras model: ONNX export in onnxruntime-node = tfjs-layers on the original (≤ 1e-4 of output scale)${SHARED_NOTE}`,
  () => {
    for (const [label, src, configKind] of MODELS) {
      test(label, async () => {
        const r = await readKeras(src);
        expect(r.passedThrough).toEqual([]);
        const input = r.model.graph.inputs[0]!;
        const dims = [2, ...input.shape!.slice(1).map(Number)];
        const x = seeded(
          dims.reduce((a, b) => a * b, 1),
          7,
          0,
          1,
        );
        const ours = await runOrt(r.model, { [input.name]: { data: x, dims } });
        const config =
          configKind === 'original' && typeof src === 'string' && !src.endsWith('.h5')
            ? await originalConfig(src)
            : configKind === 'original'
              ? await originalConfig(src as string)
              : keras2Config(r.keras);
        const ref = tfjsRun(await tfjsModel(config, r.keras), x, dims);
        const outs = r.model.graph.outputs;
        expect(outs.length).toBe(ref.length);
        outs.forEach((o, i) => expect(relErr(ours[o.name]!.data, ref[i]!), `${label} output ${o.name}`).toBeLessThanOrEqual(1e-4));
      });
    }

    test('QKeras model imports with its custom layers listed as opaque mc.keras nodes', async () => {
      const r = await readKeras(`${KERAS_DIR}hls4ml/qkeras-v3_3layer.keras`);
      expect(r.passedThrough.map((p) => `${p.className} ${p.layer}`)).toEqual([
        'QDense fc1',
        'QActivation relu1',
        'QDense fc2',
        'QActivation relu2',
        'QDense fc3',
        'QActivation relu3',
        'QDense output',
      ]);
      const ops = r.model.graph.nodes.map((n) => `${n.domain}:${n.opType}`);
      expect(ops).toEqual([
        'mc.keras:QDense',
        'mc.keras:QActivation',
        'mc.keras:QDense',
        'mc.keras:QActivation',
        'mc.keras:QDense',
        'mc.keras:QActivation',
        'mc.keras:QDense',
        ':Softmax',
      ]);
      // Opaque nodes keep their weights as inputs (kernel [16, 64], bias [64] for fc1).
      expect(r.model.graph.nodes[0]!.inputs.slice(1).map((v) => v?.constValue?.dims)).toEqual([[16, 64], [64]]);
    });
  },
);

test.skipIf(HAVE_SHARED)('without the shared models the suite above says why it skips (skipped: the shared models are present)', () => {
  expect(SKIP_SHARED).toContain('skipped');
});
