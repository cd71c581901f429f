import { describe, expect, it } from 'vitest';
import { dimAdd, dimDiv, dimMul, dimProduct, dimSub, dimSymbols, evalDim, normalizeDim } from './symbolic.js';

describe('symbolic dims', () => {
  it('products, sums and exact divisions simplify to one canonical text', () => {
    expect(dimMul('sequence', 'batch')).toBe('batch*sequence');
    expect(dimProduct(['sequence', 'batch', 64])).toBe('64*batch*sequence');
    expect(dimDiv(dimProduct(['batch', 'sequence', 64]), 16)).toBe('4*batch*sequence');
    expect(dimDiv(dimProduct(['batch', 'sequence', 64]), dimProduct(['batch', 64]))).toBe('sequence');
    expect(dimAdd('past', 'sequence')).toBe('past + sequence');
    expect(dimSub(dimAdd('past', 'sequence'), 'past')).toBe('sequence');
    expect(dimAdd(dimSub('a', 'a'), 3)).toBe(3);
    expect(normalizeDim('sequence*batch')).toBe('batch*sequence');
    expect(normalizeDim('past_sequence_length + 1')).toBe('past_sequence_length + 1');
  });

  it('names with hyphens stay one symbol; unknown dims stay unknown', () => {
    expect(normalizeDim('batch-size')).toBe('batch-size');
    expect(dimSymbols('batch-size')).toEqual(['batch-size']);
    expect(dimMul('batch', null)).toBeNull();
    expect(dimAdd('', 1)).toBeNull();
  });

  it('inexact divisions are floor divisions evaluated with the sizes', () => {
    const d = dimMul(dimDiv(dimAdd('batch', 1), 3), 'seq');
    expect(dimSymbols(d)).toEqual(['batch', 'seq']);
    expect(
      evalDim(
        d,
        new Map([
          ['batch', 7],
          ['seq', 10],
        ]),
      ),
    ).toBe(20);
    expect(
      evalDim(
        normalizeDim(d as string),
        new Map([
          ['batch', 8],
          ['seq', 10],
        ]),
      ),
    ).toBe(30);
    expect(evalDim('batch*sequence', new Map([['batch', 2]]))).toBeUndefined();
    expect(dimDiv(6, 0)).toBeNull();
  });
});
