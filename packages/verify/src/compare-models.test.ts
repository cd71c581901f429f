import { ModelBuilder, float32Tensor } from '@mc/ir';
import { describe, expect, it } from 'vitest';
import { compareModels } from './compare-models.js';
import { randomFeeds } from './random-feeds.js';

function scaled(k: number) {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 4]);
  const w = b.initializer('w', float32Tensor([4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, k]));
  b.output(b.node('MatMul', [x, w]), 'y');
  return b.build();
}

describe('compareModels keeps the worst agreement per output over all feeds', () => {
  it('identical models: cosine 1, max |Δ| 0, top-1 1', async () => {
    const feeds = [randomFeeds(scaled(1), 1, { dynamicDim: 8 }), randomFeeds(scaled(1), 2, { dynamicDim: 8 })];
    expect(await compareModels(scaled(1), scaled(1), feeds)).toEqual({ y: { cosine: 1, maxAbs: 0, top1: 1 } });
  });

  it('a changed weight shows in every figure, the worst of two feeds kept', async () => {
    const feeds = [randomFeeds(scaled(1), 1, { dynamicDim: 8 }), randomFeeds(scaled(1), 2, { dynamicDim: 8 })];
    const one = await compareModels(scaled(1), scaled(-3), [feeds[0]!]);
    const both = await compareModels(scaled(1), scaled(-3), feeds);
    expect(one.y!.maxAbs).toBeGreaterThan(0);
    expect(both.y!.maxAbs).toBeGreaterThanOrEqual(one.y!.maxAbs);
    expect(both.y!.cosine).toBeLessThanOrEqual(one.y!.cosine);
    expect(both.y!.cosine).toBeLessThan(1);
  });
});
