import { describe, expect, it } from 'vitest';
import { seededNormal, seededRandom } from '@mc/ir/testing';
import { dequantizeBnb4, encodeBnb4, FP4_TABLE, NF4_TABLE, quantizeBnb4 } from './bnb4.js';

const nearest = (table: Float32Array, v: number) => {
  let best = 0;
  for (let c = 1; c < 16; c++) if (Math.abs(table[c]! - v) < Math.abs(table[best]! - v)) best = c;
  return best;
};

describe('bnb4 kernel', () => {
  it('NF4 and FP4 codes are the nearest table entry (10 000 seeded values in [-1, 1], ties excepted)', () => {
    const r = seededRandom(3);
    for (const [type, table] of [
      ['nf4', NF4_TABLE],
      ['fp4', FP4_TABLE],
    ] as const) {
      for (let i = 0; i < 10_000; i++) {
        const v = Math.fround(r() * 2 - 1);
        const c = encodeBnb4(v, type);
        // FP4 holds 0 and -0 (codes 0 and 8): compare values, not codes
        expect(Math.abs(table[c]! - v), `${type} ${v}`).toBeLessThanOrEqual(Math.abs(table[nearest(table, v)]! - v) + 1e-7);
      }
    }
    expect(encodeBnb4(0, 'nf4')).toBe(7);
    expect(encodeBnb4(1, 'nf4')).toBe(15);
    expect(encodeBnb4(-1, 'nf4')).toBe(0);
    expect(encodeBnb4(1, 'fp4')).toBe(3);
    expect(encodeBnb4(-1, 'fp4')).toBe(11);
    expect(encodeBnb4(0, 'fp4')).toBe(0);
  });

  it('round trip: every element within its block half-gap of the table, block max read back exactly; same seed same bytes', () => {
    const g = seededNormal(7);
    const w = Float32Array.from({ length: 165 }, () => g()); // odd length, blocks of 64 run over "rows" of any K
    for (const type of ['nf4', 'fp4'] as const) {
      const q = quantizeBnb4(w, 64, type);
      expect(q.packed.length).toBe(83);
      expect(q.absmax.length).toBe(3);
      const back = dequantizeBnb4(q.packed, q.absmax, w.length, 64, type);
      let err = 0;
      for (let i = 0; i < w.length; i++) err = Math.max(err, Math.abs(back[i]! - w[i]!));
      expect(err).toBeCloseTo(q.maxAbsError, 6);
      // the largest gap between neighbouring table values is 0.333 (FP4 0.667 → 1) and 0.304 (NF4 -1 → -0.696)
      for (let b = 0; b < 3; b++) expect(err).toBeLessThanOrEqual(0.17 * Math.max(...q.absmax));
      for (let b = 0; b < 3; b++) {
        const block = Array.from(w.subarray(b * 64, (b + 1) * 64), Math.abs);
        expect(q.absmax[b]).toBe(Math.fround(Math.max(...block)));
      }
      expect(quantizeBnb4(w, 64, type).packed).toEqual(q.packed);
      // the padding nibble of an odd count is the code of 0
      expect(q.packed[82]! & 0xf).toBe(encodeBnb4(0, type));
    }
  });

  it('an all-zero block gets absmax 0 and reads back as zeros', () => {
    const q = quantizeBnb4(new Float32Array(32), 16, 'nf4');
    expect([...q.absmax]).toEqual([0, 0]);
    expect([...dequantizeBnb4(q.packed, q.absmax, 32, 16, 'nf4')].every((v) => v === 0)).toBe(true);
  });
});
