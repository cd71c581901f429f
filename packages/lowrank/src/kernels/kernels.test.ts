import { describe, expect, it } from 'vitest';
import { eigh } from './eigh.js';
import { tfjsWasmEngine } from './engine.js';
import { matmul, transpose } from './matmul.js';
import { gaussian } from './random.js';
import {
  denseBreakEven,
  denseErrorCurve,
  l1RelError,
  selectDenseRank,
  selectTuckerRanks,
  TuckerErrorOracle,
  tuckerParams,
} from './rank-select.js';
import { rsvd } from './rsvd.js';
import { svd, truncate } from './svd.js';
import { emitFactors, reconstruct, truncateTucker, tucker2 } from './tucker2.js';

// Loaded once before the tests are collected, so the tfjs-wasm test can be skipped by name when it is missing.
const wasmEngine = await tfjsWasmEngine();

function product(u: Float64Array, s: Float64Array, vt: Float64Array, m: number, k: number, n: number) {
  const us = new Float64Array(m * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) us[i * k + j] = u[i * k + j]! * s[j]!;
  return matmul(us, vt, m, k, n);
}
function relFro(a: Float64Array, b: Float64Array) {
  let e = 0;
  let t = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - b[i]!) ** 2;
    t += a[i]! ** 2;
  }
  return Math.sqrt(e / t);
}
/** Random matrix with a decaying spectrum, like trained weights. */
function decaying(m: number, n: number, seed: number): Float64Array {
  const r = Math.min(m, n);
  const q1 = svd(gaussian(m * r, seed), m, r).u;
  const q2 = svd(gaussian(n * r, seed + 1), n, r).u;
  const s = Float64Array.from({ length: r }, (_, i) => 1 / (1 + i) ** 0.7);
  return product(q1, s, transpose(q2, n, r), m, r, n);
}

describe('matmul / eigh', () => {
  it('matmul matches the naive triple loop on odd shapes', () => {
    const [m, k, n] = [7, 13, 5];
    const a = gaussian(m * k, 1);
    const b = gaussian(k * n, 2);
    const c = matmul(a, b, m, k, n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
        expect(c[i * n + j]).toBeCloseTo(s, 12);
      }
  });
  it('eigh: A·v = λ·v, orthonormal vectors, decreasing values', () => {
    const n = 40;
    const g = gaussian(n * n, 3);
    const a = matmul(g, transpose(g, n, n), n, n, n);
    const { values, vectors } = eigh(a, n);
    for (let i = 1; i < n; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
    const av = matmul(a, transpose(vectors, n, n), n, n, n);
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) expect(Math.abs(av[i * n + j]! - values[j]! * vectors[j * n + i]!)).toBeLessThan(1e-9);
    const vvt = matmul(vectors, transpose(vectors, n, n), n, n, n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(vvt[i * n + j]!).toBeCloseTo(i === j ? 1 : 0, 12);
  });
});

describe('svd', () => {
  for (const [m, n] of [
    [60, 20],
    [20, 60],
    [33, 33],
    [1, 9],
  ] as const) {
    it(`${m}x${n}: full product reproduces A to 1e-12, error of truncation is the tail spectrum`, () => {
      const a = gaussian(m * n, m * 100 + n);
      const f = svd(a, m, n);
      expect(f.rank).toBe(Math.min(m, n));
      expect(relFro(a, product(f.u, f.s, f.vt, m, f.rank, n))).toBeLessThan(1e-12);
      const t = truncate(f, Math.ceil(f.rank / 2));
      expect(relFro(a, product(t.u, t.s, t.vt, m, t.rank, n))).toBeCloseTo(t.error, 10);
    });
  }
  it('rank-deficient input keeps A exactly', () => {
    const [m, n] = [30, 12];
    const a = matmul(gaussian(m * 3, 7), gaussian(3 * n, 8), m, 3, n);
    const f = svd(a, m, n);
    expect(f.s[3]!).toBeLessThan(1e-6 * f.s[0]!);
    expect(relFro(a, product(f.u, f.s, f.vt, m, f.rank, n))).toBeLessThan(1e-12);
  });
});

describe('rsvd', () => {
  it('within 2% of the optimal rank-k error on a decaying spectrum; same seed, same result', () => {
    const [m, n, k] = [200, 120, 16];
    const a = decaying(m, n, 11);
    const opt = truncate(svd(a, m, n), k).error;
    const r = rsvd(a, m, n, k, { seed: 5 });
    expect(r.method).toBe('randomized');
    expect(relFro(a, product(r.u, r.s, r.vt, m, k, n))).toBeCloseTo(r.error, 10);
    expect(r.error / opt).toBeLessThan(1.02);
    expect(rsvd(a, m, n, k, { seed: 5 }).s).toEqual(r.s);
  });
  it.skipIf(wasmEngine === undefined)(
    `tfjs-wasm engine: within 2% of optimal too${wasmEngine === undefined ? ' (skipped: @tensorflow/tfjs-core + tfjs-backend-wasm not installed or not usable here)' : ''}`,
    async () => {
      const engine = wasmEngine!;
      const [m, n, k] = [300, 160, 16];
      const a = decaying(m, n, 12);
      const opt = truncate(svd(a, m, n), k).error;
      const r = rsvd(a, m, n, k, { engine });
      expect(relFro(a, product(r.u, r.s, r.vt, m, k, n))).toBeCloseTo(r.error, 4);
      expect(r.error / opt).toBeLessThan(1.02);
    },
  );
  it('exact on a matrix of rank < k (Gram–Schmidt fallback)', () => {
    const [m, n] = [50, 40];
    const a = matmul(gaussian(m * 4, 1), gaussian(4 * n, 2), m, 4, n);
    const r = rsvd(a, m, n, 8);
    expect(r.error).toBeLessThan(1e-7);
  });
});

describe('dense rank selection (keras_compressor semantics)', () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: chosen rank is the smallest with err ≤ E (brute force over all ranks)`, () => {
      const [m, n] = [48 + seed * 7, 30];
      const w = decaying(m, n, seed);
      const f = svd(w, m, n);
      const maxRank = denseBreakEven(m, n);
      for (const bound of [0.05, 0.2, 0.45, 0.7]) {
        const c = selectDenseRank(w, f, bound);
        const errs: number[] = [];
        for (let k = 1; k <= maxRank; k++) {
          const t = truncate(f, k);
          errs.push(l1RelError(w, product(t.u, t.s, t.vt, m, k, n)));
        }
        const brute = errs.findIndex((e) => e <= bound);
        if (brute < 0) expect(c).toBeUndefined();
        else {
          expect(c?.rank).toBe(brute + 1);
          expect(c?.error).toBeCloseTo(errs[brute]!, 10);
        }
      }
      const curve = denseErrorCurve(w, f, maxRank);
      expect(curve.length).toBe(maxRank + 1);
    });
  }
  it('a bound no rank meets returns undefined', () => {
    const w = gaussian(20 * 20, 4);
    expect(selectDenseRank(w, svd(w, 20, 20), 0.01)).toBeUndefined();
  });
});

describe('tucker2', () => {
  it('full ranks reproduce W; truncation is the leading core block', () => {
    const [co, ci, s] = [6, 5, 9];
    const w = gaussian(co * ci * s, 9);
    const t = tucker2(w, co, ci, s);
    expect(relFro(w, reconstruct(t, ci, co))).toBeLessThan(1e-12);
    const f = truncateTucker(t, 3, 4);
    expect(f.core.length).toBe(4 * 3 * s);
    // Ŵ from truncated factors equals reconstruct()
    const wHat = reconstruct(t, 3, 4);
    let x = 0;
    for (let o = 0; o < co; o++)
      for (let i = 0; i < ci; i++)
        for (let q = 0; q < s; q++) {
          let v = 0;
          for (let a = 0; a < 4; a++)
            for (let b = 0; b < 3; b++) v += f.uOut[o * 4 + a]! * f.uIn[i * 3 + b]! * f.core[(a * 3 + b) * s + q]!;
          x = Math.max(x, Math.abs(v - wHat[(o * ci + i) * s + q]!));
        }
    expect(x).toBeLessThan(1e-12);
  });

  it('a 1x1 conv widening 6 → 20 channels keeps 6 output directions; full ranks reproduce W, factors past the rank are zero-padded', () => {
    const [co, ci] = [20, 6];
    const w = gaussian(co * ci, 21);
    const t = tucker2(w, co, ci, 1);
    expect([t.rankOut, t.rankIn, t.uOut.length, t.core.length, t.energyOut.length]).toEqual([6, 6, co * 6, 36, co]);
    expect(relFro(w, reconstruct(t, ci, co))).toBeLessThan(1e-12);
    const f = emitFactors(w, t, 4, 9); // kOut = 9 > rankOut = 6
    expect([f.first!.length, f.core.length, f.last!.length]).toEqual([4 * ci, 9 * 4, co * 9]);
    const wHat = matmul(f.last!, matmul(f.core, f.first!, 9, 4, ci), co, 9, ci);
    expect(relFro(reconstruct(t, 4, 9), wHat)).toBeLessThan(1e-12);
  });

  for (const [co, ci, s, seed] of [
    [12, 8, 9, 1],
    [16, 6, 9, 2],
    [9, 14, 3, 3],
    [20, 20, 1, 4],
  ] as const) {
    it(`${co}x${ci}x${s}: chosen pair is feasible, on the frontier, and no feasible pair is cheaper (brute force)`, () => {
      // Low-rank-ish kernel: Tucker structure plus noise.
      const w0 = gaussian(co * ci * s, seed);
      const t0 = tucker2(w0, co, ci, s);
      const scaleCore = t0.core.map((v, idx) => {
        const a = Math.floor(idx / (ci * s));
        const b = Math.floor(idx / s) % ci;
        return v / (1 + a + b);
      });
      const w = reconstruct({ ...t0, core: scaleCore }, ci, co);
      const t = tucker2(w, co, ci, s);
      const oracle = new TuckerErrorOracle(w, t);
      for (const bound of [0.1, 0.3, 0.5, 0.7]) {
        const c = selectTuckerRanks(oracle, bound);
        const grid: number[][] = [];
        let bestBrute = s * ci * co;
        for (let x = 1; x <= ci; x++) {
          grid.push([]);
          for (let y = 1; y <= co; y++) {
            const e = oracle.error(x, y);
            grid[x - 1]!.push(e);
            if (e <= bound) bestBrute = Math.min(bestBrute, tuckerParams(ci, co, s, x, y));
          }
        }
        const monotone = grid.every((row, x) =>
          row.every((e, y) => (y === 0 || e <= row[y - 1]! + 1e-12) && (x === 0 || e <= grid[x - 1]![y]! + 1e-12)),
        );
        if (bestBrute >= s * ci * co) {
          expect(c).toBeUndefined();
          continue;
        }
        expect(c).toBeDefined();
        expect(c!.error).toBeLessThanOrEqual(bound);
        // frontier: lowering either rank breaks the bound (or leaves the grid)
        if (c!.kIn > 1) expect(c!.kOut === co || grid[c!.kIn - 2]![c!.kOut - 1]! > bound || !monotone).toBe(true);
        if (monotone) expect(c!.params).toBe(bestBrute);
        else expect(c!.params).toBeLessThan(s * ci * co);
      }
    });
  }
});
