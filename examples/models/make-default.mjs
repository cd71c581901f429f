#!/usr/bin/env node
// Makes the bundled default model examples/models/mnist-mlp.onnx: LeNet-300-100 (784-300-100-10, the MLP of
// LeCun et al. 1998 that Deep Compression prunes), trained here on MNIST with @mc/distill.
//
//   pnpm build && node examples/models/make-default.mjs [--epochs 4] [--data-dir ../shared/data/mnist]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const { values } = parseArgs({ options: { epochs: { type: 'string', default: '4' }, 'data-dir': { type: 'string', default: path.resolve(root, '../shared/data/mnist') } } });

const { ModelBuilder, Tensor } = await import('@mc/ir');
const { seededNormal } = await import('@mc/ir/testing');
const { finetune } = await import('@mc/distill');
const { loadMnist, evaluate } = await import('@mc/datasets');
const { saveOnnx } = await import('@mc/io-onnx');
const { createSession } = await import('@mc/verify');

// He-normal initialisation, seeded: w ~ N(0, 2/fan_in).
function dense(b, x, inF, outF, name, seed, relu) {
  const g = seededNormal(seed);
  const s = Math.sqrt(2 / inF);
  const w = b.initializer(`${name}.weight`, new Tensor('float32', [inF, outF], Float32Array.from({ length: inF * outF }, () => g() * s)));
  const bias = b.initializer(`${name}.bias`, new Tensor('float32', [outF], new Float32Array(outF)));
  const y = b.node('Gemm', [x, w, bias], {}, { name });
  return relu ? b.node('Relu', [y], {}, { name: `${name}.relu` }) : y;
}

const b = new ModelBuilder({ opset: 17 });
const x = b.input('image', 'float32', ['batch', 784]);
const h1 = dense(b, x, 784, 300, 'fc1', 1, true);
const h2 = dense(b, h1, 300, 100, 'fc2', 2, true);
b.output(dense(b, h2, 100, 10, 'fc3', 3, false), 'logits', { dtype: 'float32', shape: ['batch', 10] });
const model = b.build();
model.producerName = 'mc examples/models/make-default.mjs';
model.docString = 'LeNet-300-100 on MNIST: input 784 pixels scaled to [0, 1] (pixel / 255), output 10 logits.';

const train = await loadMnist(values['data-dir'], { split: 'train' });
const test = await loadMnist(values['data-dir'], { split: 'test' });
const t0 = performance.now();
const { model: trained } = await finetune(model, train, { epochs: Number(values.epochs), batchSize: 128, learningRate: 1e-3, seed: 1, onProgress: (e) => {
  if (e.type === 'epoch') process.stderr.write(`epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)} (${e.seconds.toFixed(0)} s)\n`);
} });
const s = await createSession(trained);
const r = await evaluate(async (batch) => (await s.run({ image: new Tensor('float32', batch.dims, batch.x) })).logits.data, test, { batchSize: 500, layout: 'flat' });
await s.release();
trained.metadataProps.set('mnist_test_top1', r.top1.toFixed(4));
await saveOnnx(trained, path.join(here, 'mnist-mlp.onnx'));
process.stderr.write(`mnist-mlp.onnx: test top-1 ${(r.top1 * 100).toFixed(2)}% after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
