import { describe, expect, it } from 'vitest';
import { seededRandom as mulberry32 } from '@mc/ir';
import { quantizeSigns } from './binary.js';

describe('binary / ternary', () => {
  it('binary: scale = mean |w| per channel; ternary error < binary error on gaussian-ish weights', () => {
    const rand = mulberry32(8);
    const dims = [4, 50];
    const x = Float32Array.from({ length: 200 }, () => (rand() + rand() + rand() - 1.5) * 2);
    const b = quantizeSigns(x, dims, 0, 'binary');
    const t = quantizeSigns(x, dims, 0, 'ternary');
    let s0 = 0;
    for (let i = 0; i < 50; i++) s0 += Math.abs(x[i]!);
    expect(b.scales[0]).toBeCloseTo(s0 / 50, 5);
    expect(t.mse).toBeLessThan(b.mse);
    expect(new Set(t.codes)).toEqual(new Set([0, 1, 2]));
  });
});
