import { readOnnx, writeOnnx } from '@mc/io-onnx';
import { toFloat32, weightOf } from '@mc/ir';
import { randomFeeds } from '@mc/ir/testing';
import { assertNumericallyClose } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { prune, pruneMasks, storePruned, unstorePruned } from '../src/index.js';
import { mlp, smallConv } from './models.js';

describe('a pruned file read back: its weights are dense with masks again (unstorePruned)', () => {
  it.each([
    ['packed', 'MLP', mlp],
    ['sparse', 'MLP', mlp],
    ['packed', 'CNN', smallConv],
    ['sparse', 'CNN', smallConv],
  ] as const)('%s storage, %s: same weights, same masks, same outputs; written again it is the same size', async (storage, _name, make) => {
    const model = make();
    const { model: dense } = await prune(model, { mode: 'magnitude', sparsity: 0.9, storage });
    const file = writeOnnx(storePruned(dense).model);
    const read = readOnnx(file);
    for (const n of read.graph.nodes) if (n.opType === 'MatMul' || n.opType === 'Conv') expect(weightOf(n)?.tensor, n.name).toBeUndefined();
    const { model: back, restored } = unstorePruned(read);
    expect(restored.length).toBe(pruneMasks(dense).size);
    for (const n of dense.graph.nodes) {
      const w = weightOf(n);
      if (w?.tensor === undefined) continue;
      const m = back.graph.nodes.find((x) => x.name === n.name)!;
      expect(toFloat32(weightOf(m)!.tensor!)).toEqual(toFloat32(w.tensor));
    }
    expect([...pruneMasks(back).values()]).toEqual([...pruneMasks(dense).values()]);
    await assertNumericallyClose(dense, back, { feeds: randomFeeds(model, 1), bitwise: true, graphOptimizationLevel: 'basic' });
    expect(writeOnnx(storePruned(back, { storage }).model).length).toBe(file.length);
  });

  it('prune on a pruned file prunes every layer again (nothing is passed through)', async () => {
    const model = mlp();
    const once = readOnnx(writeOnnx(storePruned((await prune(model, { mode: 'magnitude', sparsity: 0.5 })).model).model));
    const { report } = await prune(once, { mode: 'magnitude', sparsity: 0.9 });
    const fresh = await prune(model, { mode: 'magnitude', sparsity: 0.9 });
    expect(report.passedThrough).toEqual([]);
    expect(report.weights.map((w) => w.zeros)).toEqual(fresh.report.weights.map((w) => w.zeros));
  });
});
