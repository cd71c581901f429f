import { describe, expect, it } from 'vitest';
import { kmeans1d } from './kmeans.js';
import { seededRandom as mulberry32 } from '../random.js';

describe('k-means weight sharing', () => {
  it('same seed gives the same codebook; more bits give lower error (seeded)', () => {
    const rand = mulberry32(7);
    const x = Float32Array.from({ length: 20000 }, () => (rand() - 0.5) * (rand() < 0.1 ? 4 : 1));
    const a = kmeans1d(x, 16, { seed: 1 });
    const b = kmeans1d(x, 16, { seed: 1 });
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(a.centroids.length).toBe(16);
    let prev = Infinity;
    for (const bits of [1, 2, 3, 4, 6, 8]) {
      const r = kmeans1d(x, 2 ** bits, { seed: 1 });
      expect(r.mse).toBeLessThan(prev);
      prev = r.mse;
    }
    // 4-bit k-means beats a uniform 16-level grid over the same range
    const lo = Math.min(...x);
    const hi = Math.max(...x);
    const step = (hi - lo) / 15;
    let se = 0;
    for (const v of x) se += (v - (lo + Math.round((v - lo) / step) * step)) ** 2;
    expect(a.mse).toBeLessThan(se / x.length);
    // each element maps to its nearest centroid
    for (let i = 0; i < 200; i++) {
      const best = a.centroids.reduce((bi, c, j) => (Math.abs(c - x[i]!) < Math.abs(a.centroids[bi]! - x[i]!) ? j : bi), 0);
      expect(Math.abs(a.centroids[a.indices[i]!]! - x[i]!)).toBeCloseTo(Math.abs(a.centroids[best]! - x[i]!), 6);
    }
  });

  it('fewer distinct values than k gives exact reconstruction', () => {
    const x = new Float32Array([1, 2, 3, 1, 2, 3]);
    const r = kmeans1d(x, 8, { seed: 0 });
    expect(r.mse).toBe(0);
    expect(r.centroids.length).toBe(3);
  });

  it("linear init (Deep Compression's, as @mc/prune uses): seeded data, same result twice, every value at its nearest centroid, beats the uniform grid", () => {
    const rand = mulberry32(3);
    const x = Float32Array.from({ length: 5000 }, () => (rand() + rand() + rand() - 1.5) * (rand() < 0.05 ? 5 : 1));
    const a = kmeans1d(x, 16, { init: 'linear', maxIterations: 40 });
    const b = kmeans1d(x, 16, { init: 'linear', maxIterations: 40 });
    expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
    expect(a.centroids.length).toBe(16);
    expect(Array.from(a.centroids)).toEqual(Array.from(a.centroids).sort((p, q) => p - q));
    let worst = 0;
    for (const [i, v] of x.entries()) {
      const best = a.centroids.reduce((m, c) => Math.min(m, Math.abs(c - v)), Infinity);
      expect(Math.abs(a.centroids[a.indices[i]!]! - v)).toBeCloseTo(best, 6);
      worst = Math.max(worst, Math.abs(a.centroids[a.indices[i]!]! - v));
    }
    expect(a.maxAbsError).toBeCloseTo(worst, 6);
    const lo = Math.min(...x);
    const step = (Math.max(...x) - lo) / 15;
    let se = 0;
    for (const v of x) se += (v - (lo + Math.round((v - lo) / step) * step)) ** 2;
    expect(a.mse).toBeLessThan(se / x.length);
    expect(kmeans1d(new Float32Array([5, 5, 5]), 4, { init: 'linear' }).centroids).toEqual(new Float32Array([5]));
  });
});
