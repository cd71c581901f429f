import { seededNormal } from '@mc/ir';
import { describe, expect, it } from 'vitest';
import { awqBlocks, dequantizeBlocks, refineBlocks } from './block-refine.js';
import { quantizeBlocks } from './block.js';
import { gptqBlocks, type InputGram, outputError } from './gptq.js';

const N = 24;
const K = 96;

function weights(seed: number): Float32Array {
  const g = seededNormal(seed);
  // heavy-ish tails, as trained weights have: a few large values per block
  return Float32Array.from({ length: N * K }, () => {
    const v = g();
    return v * (Math.abs(v) > 2 ? 3 : 1);
  });
}

/** H = XᵀX of rows with correlated channels and a few loud ones (what transformer activations look like). */
function gram(seed: number, rows = 400): InputGram {
  const g = seededNormal(seed);
  const loud = new Float64Array(K).map((_, i) => (i % 17 === 0 ? 8 : 1));
  const h = new Float64Array(K * K);
  const x = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    const common = g();
    for (let i = 0; i < K; i++) x[i] = (0.6 * common + g()) * loud[i]!;
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j] = h[i * K + j]! + x[i]! * x[j]!;
  }
  return { h, k: K };
}

function sqErr(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s;
}

describe('int4 methods beyond round-to-nearest (seeded)', () => {
  for (const bs of [16, 32]) {
    for (const symmetric of [true, false]) {
      const tag = `block ${bs} ${symmetric ? 'sym' : 'asym'}`;
      it(`hqq: weight error ≤ RTN's and strictly lower overall, deterministic (${tag})`, () => {
        const w = weights(bs + (symmetric ? 1 : 0));
        const rtn = quantizeBlocks(w, N, K, bs, symmetric);
        const hq = refineBlocks(w, N, K, bs, symmetric);
        const eR = sqErr(w, dequantizeBlocks(rtn, N, K, bs));
        const eH = sqErr(w, dequantizeBlocks(hq, N, K, bs));
        expect(eH).toBeLessThan(eR * (symmetric ? 0.9 : 0.97));
        expect(Array.from(refineBlocks(w, N, K, bs, symmetric).q)).toEqual(Array.from(hq.q));
        expect(hq.zeroPoints.every((z) => z <= 15)).toBe(true);
        if (symmetric) expect(hq.zeroPoints.every((z) => z === 8)).toBe(true);
      });

      it(`gptq: output error on the calibration rows below RTN's by ≥ 15 % (${tag})`, () => {
        const w = weights(7);
        const h = gram(3);
        const eR = outputError(w, dequantizeBlocks(quantizeBlocks(w, N, K, bs, symmetric), N, K, bs), N, h);
        const eG = outputError(w, dequantizeBlocks(gptqBlocks(w, N, K, bs, symmetric, h), N, K, bs), N, h);
        expect(eG).toBeLessThan(eR * 0.85);
      });

      it(`awq: chosen scaling never worse than RTN on the calibration rows, strictly better with loud channels (${tag})`, () => {
        const w = weights(11);
        const h = gram(5);
        const a = awqBlocks(w, N, K, bs, symmetric, h);
        expect(a.errorChosen).toBeLessThan(a.errorRtn);
        expect(a.alpha).toBeGreaterThan(0);
        // the stored error is the real one: dequantize, undo the input scaling, compare
        const deq = dequantizeBlocks(a.quantized, N, K, bs);
        for (let r = 0; r < N; r++) for (let i = 0; i < K; i++) deq[r * K + i] = deq[r * K + i]! * a.inputScale[i]!;
        expect(outputError(w, deq, N, h)).toBeCloseTo(a.errorChosen, 6);
      });
    }
  }

  it('gptq with H = identity compensates nothing: the same codes as RTN', () => {
    const w = weights(2);
    const h = new Float64Array(K * K);
    for (let i = 0; i < K; i++) h[i * K + i] = 1;
    expect(Array.from(gptqBlocks(w, N, K, 32, true, { h, k: K }).q)).toEqual(Array.from(quantizeBlocks(w, N, K, 32, true).q));
  });
});
