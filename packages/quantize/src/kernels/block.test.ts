import { describe, expect, it } from 'vitest';
import { packBits, quantizeBlocks, transpose2d, unpackBits } from './block.js';
import { seededRandom as mulberry32 } from '@mc/ir';

describe('int4 blocks', () => {
  it('packs low nibble first', () => {
    expect(Array.from(packBits([1, 2, 3], 4))).toEqual([0x21, 0x03]);
    expect(Array.from(packBits([-1, 7], 4))).toEqual([0x7f]);
    expect(Array.from(packBits([1, 0, 1, 1, 0, 0, 0, 0, 1], 1))).toEqual([0b1101, 1]);
    const v = Uint8Array.from({ length: 33 }, (_, i) => i % 4);
    expect(Array.from(unpackBits(packBits(v, 2), 2, 33))).toEqual(Array.from(v));
  });

  for (const block of [32, 64, 128]) {
    for (const symmetric of [true, false]) {
      it(`block ${block} ${symmetric ? 'sym' : 'asym'}: error ≤ scale/2 per block (seeded)`, () => {
        const rand = mulberry32(block);
        const rows = 5;
        const cols = 200; // not a multiple of the block size
        const x = Float32Array.from({ length: rows * cols }, () => rand() * 2 - 0.7);
        const r = quantizeBlocks(x, rows, cols, block, symmetric);
        expect(r.blocksPerRow).toBe(Math.ceil(cols / block));
        for (let i = 0; i < x.length; i++) {
          const row = Math.floor(i / cols);
          const b = Math.floor((i % cols) / block);
          const s = r.scales[row * r.blocksPerRow + b]!;
          const zp = r.zeroPoints[row * r.blocksPerRow + b]!;
          expect(Math.abs((r.q[i]! - zp) * s - x[i]!)).toBeLessThanOrEqual(s / 2 + 1e-6);
        }
        expect(Array.from(quantizeBlocks(x, rows, cols, block, symmetric).q)).toEqual(Array.from(r.q));
      });
    }
  }

  it('transpose2d', () => {
    expect(Array.from(transpose2d(new Float32Array([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
