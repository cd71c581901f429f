import { Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { assertNumericallyClose, createSession, type Feeds } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { factorize } from '../src/index.js';
import { mlp } from './models.js';

/** Inputs of mlp() that live near an 8-dimensional subspace of R^64 (real activations are far from isotropic). */
function subspaceFeeds(count: number, seed: number): Feeds[] {
  const basis = seededNormal(99);
  const p = Float32Array.from({ length: 8 * 64 }, () => basis());
  const g = seededNormal(seed);
  return Array.from({ length: count }, () => {
    const x = new Float32Array(2 * 64);
    for (let r = 0; r < 2; r++) {
      const z = Array.from({ length: 8 }, () => g());
      for (let j = 0; j < 64; j++) {
        let s = 0.01 * g();
        for (let q = 0; q < 8; q++) s += z[q]! * p[q * 64 + j]!;
        x[r * 64 + j] = s;
      }
    }
    return { x: new Tensor('float32', [2, 64], x) };
  });
}

async function outputGap(a: Parameters<typeof createSession>[0], b: Parameters<typeof createSession>[0], feeds: Feeds[]): Promise<number> {
  const [sa, sb] = await Promise.all([createSession(a), createSession(b)]);
  let num = 0;
  let den = 0;
  for (const f of feeds) {
    const [ya, yb] = [(await sa.run(f)).y!.data as Float32Array, (await sb.run(f)).y!.data as Float32Array];
    for (let i = 0; i < ya.length; i++) {
      num += (ya[i]! - yb[i]!) ** 2;
      den += ya[i]! ** 2;
    }
  }
  await Promise.all([sa.release(), sb.release()]);
  return Math.sqrt(num / den);
}

describe('factorize with calibration (data-aware, whitened SVD)', () => {
  it('full rank stays exact: outputs match the original to 1e-5', async () => {
    const model = mlp();
    const { model: out, report } = await factorize(model, { rank: 48, onlyIfSmaller: false, calibration: subspaceFeeds(4, 1) });
    expect(report.nodes.find((n) => n.node === 'fc1')?.decomposition).toBe('calibrated');
    await assertNumericallyClose(model, out, { feeds: subspaceFeeds(2, 2), atol: 1e-5, rtol: 1e-5 });
  });

  it('rank 8 on 8-dim inputs: output error ≤ 0.05 with calibration, and ≥ 3x smaller than the weight SVD on held-out data', async () => {
    const model = mlp();
    const cal = await factorize(model, { rank: 8, calibration: subspaceFeeds(8, 3) });
    const plain = await factorize(model, { rank: 8 });
    const fc1 = cal.report.nodes.find((n) => n.node === 'fc1')!;
    expect(fc1.outputError).toBeLessThan(0.05);
    expect(fc1.weightError).toBeGreaterThan(plain.report.nodes.find((n) => n.node === 'fc1')!.weightError); // it trades weight error for output error
    const held = subspaceFeeds(4, 4);
    const gCal = await outputGap(model, cal.model, held);
    const gPlain = await outputGap(model, plain.model, held);
    expect(gCal * 3).toBeLessThan(gPlain);
  });

  it('error policy bounds the output error; an async iterable works', async () => {
    const feeds = subspaceFeeds(4, 5);
    async function* gen() {
      yield* feeds;
    }
    const { report } = await factorize(mlp(), { error: 0.1, calibration: gen() });
    const fc1 = report.nodes.find((n) => n.node === 'fc1')!;
    expect(fc1.replaced).toBe(true);
    expect(fc1.outputError).toBeLessThanOrEqual(0.1);
    expect(fc1.ranks[0]).toBeLessThanOrEqual(9);
  });
});
