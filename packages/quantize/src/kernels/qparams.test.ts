import { describe, expect, it } from 'vitest';
import { computeQParams, quantizeAxis, qRange, roundHalfEven } from './qparams.js';
import { seededRandom as mulberry32 } from '@mc/ir';

describe('scale / zero point', () => {
  it('ranges and rounding match onnxruntime.quantization', () => {
    expect(qRange('int8', { symmetric: true })).toEqual([-127, 127]);
    expect(qRange('uint8', { reduceRange: true })).toEqual([0, 127]);
    expect(qRange('int8', { reduceRange: true })).toEqual([-64, 64]);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(-2.5)).toBe(-2);
    expect(roundHalfEven(3.5)).toBe(4);
    const p = computeQParams(-1, 3, 'uint8');
    expect(p.scale).toBeCloseTo(4 / 255, 7);
    expect(p.zeroPoint).toBe(64);
    expect(computeQParams(0, 0, 'int8')).toEqual({ scale: 1, zeroPoint: 0 });
    expect(computeQParams(1, 2, 'uint8').zeroPoint).toBe(0); // range widened to include 0
  });

  it('per-channel symmetric int8: error ≤ scale/2, zero exact (seeded)', () => {
    const rand = mulberry32(3);
    const dims = [8, 3, 3, 3];
    const w = Float32Array.from({ length: 216 }, (_, i) => (rand() - 0.5) * (1 + (i % 8)));
    w[5] = 0;
    const r = quantizeAxis(w, dims, 0, 'int8', { symmetric: true });
    expect(r.params).toHaveLength(8);
    const maxScale = Math.max(...r.params.map((p) => p.scale));
    expect(r.maxAbsError).toBeLessThanOrEqual(maxScale / 2 + 1e-7);
    expect(r.q[5]).toBe(0);
    expect(r.params.every((p) => p.zeroPoint === 0)).toBe(true);
    const again = quantizeAxis(w, dims, 0, 'int8', { symmetric: true });
    expect(Array.from(again.q)).toEqual(Array.from(r.q));
  });

  it('per-axis on a non-leading axis picks the right channels', () => {
    // [2, 3] matrix, axis 1: column c scales by column max
    const w = new Float32Array([1, 10, 100, -1, -10, -100]);
    const r = quantizeAxis(w, [2, 3], 1, 'int8', { symmetric: true });
    expect(r.params.map((p) => p.scale)).toEqual([1 / 127, 10 / 127, 100 / 127].map(Math.fround));
    expect(Array.from(r.q)).toEqual([127, 127, 127, -127, -127, -127]);
  });
});
