import { writeOnnx } from '@mc/io-onnx';
import { type Model, ModelBuilder, type Tensor } from '@mc/ir';
import { randomFeeds, randomTensor } from '@mc/ir/testing';
import { runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { pruneStored } from './stored.js';
import { mlp } from './models.js';

async function runWeb(model: Model, feeds: Record<string, Tensor>): Promise<Float32Array> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const s = await ort.InferenceSession.create(writeOnnx(model));
  try {
    const inputs = Object.fromEntries(
      Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data as Float32Array, [...t.dims])]),
    );
    return (await s.run(inputs)).y!.data as Float32Array;
  } finally {
    await s.release();
  }
}

describe('storage forms load in onnxruntime-web (wasm) too', () => {
  it('sparse_initializer with int64 (default) and int16 indices, packed, packed + codebook: web matches node to 1e-5', async () => {
    const model = mlp();
    const feeds = randomFeeds(model, 5);
    for (const opts of [
      { storage: 'sparse' },
      { storage: 'sparse', sparseIndices: 'smallest' },
      { storage: 'packed' },
      { storage: 'packed', codebook: 4 },
    ] as const) {
      const { model: out, report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, ...opts });
      if (opts.storage === 'sparse')
        expect(new Set(report.weights.map((w) => w.indexType))).toEqual(new Set(['sparseIndices' in opts ? 'int16' : 'int64']));
      const node = (await runModel(out, feeds)).y!.data as Float32Array;
      const web = await runWeb(out, feeds);
      for (let i = 0; i < node.length; i++) expect(Math.abs(node[i]! - web[i]!)).toBeLessThan(1e-5);
    }
  });

  it("int32 indices (a 200×200 weight, sparseIndices 'smallest') load in both runtimes", async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 200]);
    b.output(b.node('MatMul', [x, b.initializer('w', randomTensor('float32', [200, 200], 3))], {}, { name: 'mm' }), 'y');
    const model = b.build();
    const { model: out, report } = await pruneStored(model, {
      mode: 'magnitude',
      sparsity: 0.95,
      storage: 'sparse',
      sparseIndices: 'smallest',
    });
    expect(report.weights[0]!.indexType).toBe('int32');
    const feeds = randomFeeds(model, 1);
    const node = (await runModel(out, feeds)).y!.data as Float32Array;
    const web = await runWeb(out, feeds);
    for (let i = 0; i < node.length; i++) expect(Math.abs(node[i]! - web[i]!)).toBeLessThan(1e-5);
  });
});
