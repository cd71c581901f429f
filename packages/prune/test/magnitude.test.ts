import { gzipSync } from 'node:zlib';
import { writeOnnx } from '@mc/io-onnx';
import { printModel, toFloat32, weightOf } from '@mc/ir';
import { randomFeeds } from '@mc/ir/testing';
import { assertNumericallyClose } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { pruneStored } from './stored.js';
import { mlp, smallConv } from './models.js';

const zerosOf = (a: Float32Array): number => a.reduce((n, x) => n + (x === 0 ? 1 : 0), 0);

describe('magnitude pruning', () => {
  it('per layer: every weight has exactly floor(s·n) zeros and the kept weights are the largest', async () => {
    const model = mlp();
    const text = printModel(model);
    const { model: out, report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'dense' });
    expect(printModel(model)).toBe(text);
    expect(report.weights.map((w) => w.node)).toEqual(['fc1', 'fc2', 'fc3']);
    for (const w of report.weights) {
      expect(w.zeros).toBe(Math.floor(0.9 * w.elements));
      const node = out.graph.nodes.find((n) => n.name === w.node)!;
      const data = toFloat32(weightOf(node)!.tensor!);
      expect(zerosOf(data)).toBe(w.zeros);
      const orig = toFloat32(weightOf(model.graph.nodes.find((n) => n.name === w.node)!)!.tensor!);
      let keptMin = Infinity;
      let goneMax = 0;
      for (let i = 0; i < data.length; i++) {
        if (data[i] === 0) goneMax = Math.max(goneMax, Math.abs(orig[i]!));
        else {
          keptMin = Math.min(keptMin, Math.abs(data[i]!));
          expect(data[i]).toBe(orig[i]);
        }
      }
      expect(goneMax).toBeLessThanOrEqual(keptMin);
    }
  });

  it('global: exactly floor(s·N) zeros over all layers together', async () => {
    const model = mlp();
    const { report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.8, scope: 'global', storage: 'dense' });
    const n = report.weights.reduce((s, w) => s + w.elements, 0);
    expect(report.weights.reduce((s, w) => s + w.zeros, 0)).toBe(Math.floor(0.8 * n));
    expect(new Set(report.weights.map((w) => w.threshold)).size).toBe(1);
  });

  it('2:4 keeps the 2 largest of every 4 along the input-channel axis', async () => {
    const model = smallConv();
    const { model: out, report } = await pruneStored(model, { mode: 'magnitude', nm: [2, 4], storage: 'dense' });
    for (const w of report.weights) expect(w.sparsity).toBe(0.5);
    const conv2 = out.graph.nodes.find((n) => n.name === 'conv2')!;
    const d = toFloat32(weightOf(conv2)!.tensor!); // [8, 8, 1, 1]: runs of 4 along axis 1
    for (let o = 0; o < 8; o++) for (let g = 0; g < 8; g += 4) expect(zerosOf(d.subarray(o * 8 + g, o * 8 + g + 4))).toBe(2);
  });

  it('sparse, packed and dense storage give bitwise-identical outputs in onnxruntime-node; files shrink', async () => {
    const model = mlp();
    const dense = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'dense' });
    const sparse = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'sparse' });
    const packed = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'packed' });
    const feeds = [randomFeeds(model, 1), randomFeeds(model, 2)];
    await assertNumericallyClose(dense.model, sparse.model, { feeds, bitwise: true });
    // The packed decoder is folded into a constant at 'basic' and above; with optimizations disabled it runs per call
    // and MatMul takes its non-prepacked path (same weights, another summation order: 4e-6).
    await assertNumericallyClose(dense.model, packed.model, { feeds, bitwise: true, graphOptimizationLevel: 'basic' });
    // int64 indices by default (onnx.checker accepts no other); the sparse initializer holds only the survivors.
    const w3 = sparse.report.weights.find((w) => w.node === 'fc3')!;
    expect(w3.storage).toBe('sparse');
    expect(w3.indexType).toBe('int64');
    expect(sparse.model.graph.sparseInitializers.size).toBe(3);
    const bytes = (m: typeof model) => writeOnnx(m).length;
    const orig = bytes(model);
    expect(bytes(sparse.model)).toBeLessThan(orig * 0.35);
    expect(bytes(packed.model)).toBeLessThan(orig * 0.2);
    expect(gzipSync(writeOnnx(dense.model)).length).toBeLessThan(gzipSync(writeOnnx(model)).length * 0.35);
    for (const w of packed.report.weights) expect(w.bytesAfter).toBeLessThan(w.bytesBefore / 6);
  });

  it("storage 'auto' picks the smallest form per tensor and runs in onnxruntime-node", async () => {
    const model = smallConv();
    const { model: out, report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.75 });
    for (const w of report.weights) expect(w.bytesAfter).toBeLessThanOrEqual(w.bytesBefore);
    const ref = await pruneStored(model, { mode: 'magnitude', sparsity: 0.75, storage: 'dense' });
    await assertNumericallyClose(ref.model, out, { feeds: randomFeeds(model, 3), bitwise: true, graphOptimizationLevel: 'basic' });
    expect(report.after.paramBytes).toBeLessThan(report.before.paramBytes);
  });

  it('packed with a 4-bit codebook: ≤ 16 shared values per layer, zeros exact, smaller again; cos ≥ 0.99 vs float values', async () => {
    const model = mlp();
    const dense = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'dense' });
    const packed = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'packed' });
    const cb = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'packed', codebook: 4 });
    for (const w of cb.report.weights) {
      expect(w.codebook).toMatchObject({ bits: 4, entries: 16 });
      expect(w.codebook!.maxAbsError).toBeLessThan(0.1);
    }
    const sum = (r: typeof cb.report) => r.weights.reduce((n, w) => n + w.bytesAfter, 0);
    expect(sum(cb.report)).toBeLessThan(sum(packed.report) * 0.45);
    expect(writeOnnx(cb.model).length).toBeLessThan(writeOnnx(packed.model).length);
    const r = await assertNumericallyClose(dense.model, cb.model, {
      feeds: [randomFeeds(model, 1), randomFeeds(model, 2)],
      minCosine: 0.99,
      graphOptimizationLevel: 'basic',
    });
    expect(r.y!.cosine).toBeGreaterThan(0.99);
    await expect(pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'sparse', codebook: 4 })).rejects.toMatchObject({
      code: 'E_OPTION',
    });
  });
});
