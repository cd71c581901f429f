import { describe, expect, it } from 'vitest';
import { entropyRange } from './entropy.js';
import { HistogramCollector, percentileRange } from './histogram.js';
import { MinMaxCollector } from './minmax.js';
import { seededRandom as mulberry32 } from '@mc/ir';

function gaussian(rand: () => number, n: number, sigma: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}

describe('calibrators stream batches', () => {
  it('minmax over batches equals minmax of the concatenation', () => {
    const rand = mulberry32(4);
    const c = new MinMaxCollector();
    let lo = Infinity;
    let hi = -Infinity;
    for (let b = 0; b < 5; b++) {
      const x = gaussian(rand, 1000, b + 1);
      c.collect(x);
      for (const v of x) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    expect(c.range()).toEqual([lo, hi]);
  });

  it('histogram grows without losing counts; percentile clips outliers', () => {
    const rand = mulberry32(5);
    const h = new HistogramCollector(2048);
    for (let b = 0; b < 8; b++) h.collect(gaussian(rand, 4000, 1 + b * 0.1));
    const spike = new Float32Array(10).fill(100);
    h.collect(spike);
    expect(h.total).toBe(32010);
    expect(h.hist.reduce((a, b) => a + b, 0)).toBe(32010);
    expect(h.threshold).toBeGreaterThanOrEqual(100);
    const [lo, hi] = percentileRange(h, 99.9);
    expect(hi).toBeLessThan(10); // the 10 spikes (0.03 %) are cut
    expect(lo).toBeGreaterThan(-10);
    expect(hi).toBeGreaterThan(2);
  });

  it('entropy picks a threshold inside the range on a heavy-tailed distribution, same result every run', () => {
    const run = () => {
      const rand = mulberry32(6);
      const h = new HistogramCollector(2048);
      for (let b = 0; b < 4; b++) {
        const x = gaussian(rand, 5000, 1);
        x[0] = 40; // rare outlier
        h.collect(x);
      }
      return entropyRange(h, 128);
    };
    const [lo, hi] = run();
    expect(hi).toBeGreaterThan(2);
    expect(hi).toBeLessThan(40);
    expect(lo).toBeLessThan(-2);
    expect(run()).toEqual([lo, hi]);
  });
});
