import { printModel } from '@mc/ir';
import { countOps, randomFeeds } from '@mc/ir/testing';
import { assertNumericallyClose } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { prune } from '../src/index.js';
import { DeadChannelNet } from './models.js';

describe('channel pruning: removing exactly-zero channels changes no output (≤ 1e-6, onnxruntime-node)', () => {
  const cases = [
    [1, 'gap'],
    [2, 'flatten'],
    [3, 'matmul'],
    [4, 'nhwc'],
    [5, 'flatten'],
    [6, 'matmul'],
    [7, 'gap'],
    [8, 'nhwc'],
  ] as const;
  for (const [seed, head] of cases) {
    it(`random net seed ${seed} (${head} head): residual adds, concats, splits, depthwise convs`, async () => {
      const model = new DeadChannelNet(seed).build(head);
      const text = printModel(model);
      const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.25, importance: seed % 2 === 0 ? 'bn' : 'l1' });
      expect(printModel(model)).toBe(text); // input untouched
      expect(report.nothingToPrune).toBeUndefined();
      expect(report.after.params).toBeLessThan(report.before.params);
      // Every group that is not the classifier loses its dead quarter.
      for (const g of report.groups) {
        if (g.roots.includes('fc')) expect(g.removed).toBe(0);
        else expect(g.removed).toBe(g.channels / 4);
        for (const idx of Object.values(g.removedChannels)) for (const i of idx) expect(i % 4).toBe(0);
      }
      const feeds = [randomFeeds(model, 1), randomFeeds(model, 2)];
      const close = await assertNumericallyClose(model, out, { feeds, atol: 1e-6 });
      expect(close.y!.maxAbs).toBeLessThanOrEqual(1e-6);
      expect(countOps(out)).toEqual(countOps(model));
    });
  }

  it('global scope removes the same dead channels, and foldBatchNorm removes every BN after a conv', async () => {
    const model = new DeadChannelNet(11).build('gap');
    const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.2, scope: 'global', foldBatchNorm: true });
    expect(report.achieved).toBeGreaterThan(0.15);
    for (const g of report.groups) for (const idx of Object.values(g.removedChannels)) for (const i of idx) expect(i % 4).toBe(0);
    const bnAfterConv = out.graph.nodes.filter(
      (n) => n.opType === 'BatchNormalization' && n.inputs[0]?.producer()?.opType === 'Conv' && n.inputs[0]!.uses().length === 1,
    );
    expect(bnAfterConv).toEqual([]);
    await assertNumericallyClose(model, out, { feeds: randomFeeds(model, 3), atol: 1e-5, minCosine: 0.999999 });
  });

  it('50% of channels: shapes stay consistent and the model runs (lossy, cos > 0)', async () => {
    const model = new DeadChannelNet(12).build('flatten');
    const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.5, importance: 'l2' });
    expect(report.achieved).toBeGreaterThan(0.3);
    const r = await assertNumericallyClose(model, out, { feeds: randomFeeds(model, 4) });
    expect(Number.isFinite(r.y!.maxAbs)).toBe(true);
  });

  it('a custom Importance is used, and its wrong length is a coded error', async () => {
    const model = new DeadChannelNet(13).build('gap');
    const seen: string[] = [];
    await prune(model, {
      mode: 'channels',
      ratio: 0.25,
      importance: {
        name: 'index',
        scores: (l) => {
          seen.push(l.node.name);
          return Array.from({ length: l.dims[l.outAxis]! }, (_, i) => i);
        },
      },
    });
    expect(seen.length).toBeGreaterThan(3);
    await expect(prune(model, { mode: 'channels', ratio: 0.25, importance: { name: 'bad', scores: () => [1] } })).rejects.toMatchObject({
      code: 'E_OPTION',
    });
  });
});
