import { describe, expect, it } from 'vitest';
import { formatNumber } from '../src/table.js';

describe('formatNumber', () => {
  it("groups integers in threes exactly as toLocaleString('en-US') does, without loading ICU's locale data", () => {
    const ints = [0, 7, -7, 999, 1000, -1000, 266_610, 1_234_567, -9_876_543_210, Number.MAX_SAFE_INTEGER, 1e21, -2e22];
    for (let k = 0, x = 1; k < 200; k++, x = (x * 7919 + 13) % 1e15) ints.push(x, -x);
    for (const n of ints) expect(formatNumber(n), String(n)).toBe(n.toLocaleString('en-US'));
  });

  it('keeps 4 significant digits of fractions and prints non-finite values as they are', () => {
    expect(formatNumber(1234.5678)).toBe('1235');
    expect(formatNumber(0.000123456)).toBe('0.0001235');
    expect(formatNumber(Number.NaN)).toBe('NaN');
    expect(formatNumber(-Infinity)).toBe('-Infinity');
  });
});
