import { describe, expect, it } from 'vitest';
import { convertToBfloat16, convertToFloat16, fromBfloat16Bits, fromFloat16Bits, toFloat16Bits } from './float16.js';
import { seededRandom as mulberry32 } from '@mc/ir';

describe('float16 / bfloat16 conversion', () => {
  it('known bit patterns, round-to-nearest-even', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie → even (0)
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie → even (2)
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toFloat16Bits(Infinity)).toBe(0x7c00);
    expect(toFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
  });

  it('clamps out-of-range values and counts them', () => {
    const r = convertToFloat16(new Float32Array([1e6, -1e6, 1, 1e-9]));
    expect(r.clamped).toBe(2);
    expect(r.underflowed).toBe(1);
    expect(fromFloat16Bits(r.bits[0]!)).toBe(65504);
    expect(fromFloat16Bits(r.bits[1]!)).toBe(-65504);
  });

  it('relative error ≤ 2^-11 on normal range (seeded)', () => {
    const rand = mulberry32(1);
    const x = Float32Array.from({ length: 10000 }, () => (rand() - 0.5) * 2 ** (rand() * 30 - 14));
    const r = convertToFloat16(x);
    for (let i = 0; i < x.length; i++) {
      const v = fromFloat16Bits(r.bits[i]!);
      if (Math.abs(x[i]!) >= 2 ** -14) expect(Math.abs(v - x[i]!) / Math.abs(x[i]!)).toBeLessThanOrEqual(2 ** -11);
    }
  });

  it('bfloat16 relative error ≤ 2^-8 and exact on representable values', () => {
    const rand = mulberry32(2);
    const x = Float32Array.from({ length: 10000 }, () => (rand() - 0.5) * 1e3);
    const r = convertToBfloat16(x);
    for (let i = 0; i < x.length; i++) {
      const v = fromBfloat16Bits(r.bits[i]!);
      expect(Math.abs(v - x[i]!)).toBeLessThanOrEqual(Math.abs(x[i]!) * 2 ** -8);
    }
    expect(fromBfloat16Bits(convertToBfloat16(new Float32Array([1.5])).bits[0]!)).toBe(1.5);
  });
});
