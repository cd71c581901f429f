import { Tensor } from '@mc/ir';
import { createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { reinitialize } from '../src/index.js';
import { cnnModel } from './fixtures.js';

const values = (m: ReturnType<typeof cnnModel>) =>
  new Map([...m.graph.initializers.values()].map((v) => [v.name, Array.from(v.constValue!.data as Float32Array)]));

describe('reinitialize', () => {
  it('redraws layer weights Glorot-uniform, zeroes biases, resets BatchNormalization; the input is untouched; it runs', async () => {
    const model = cnnModel();
    const before = values(model);
    const fresh = reinitialize(model, { seed: 1 });
    expect(values(model)).toEqual(before); // input unchanged
    const after = values(fresh);
    // Conv c1 [4,3,3,3]: fan-in 27, fan-out 36 → limit √(6/63)
    const limit = Math.sqrt(6 / (27 + 36));
    const c1 = after.get('c1.w')!;
    expect(c1).not.toEqual(before.get('c1.w'));
    expect(Math.max(...c1.map(Math.abs))).toBeLessThanOrEqual(limit);
    expect(Math.max(...c1.map(Math.abs))).toBeGreaterThan(limit * 0.8);
    expect(after.get('c1.b')).toEqual([0, 0, 0, 0]);
    expect(after.get('fc1.b')).toEqual(new Array(6).fill(0));
    expect(after.get('bn.g')).toEqual([1, 1, 1, 1]);
    expect(after.get('bn.v')).toEqual([1, 1, 1, 1]);
    expect(after.get('bn.m')).toEqual([0, 0, 0, 0]);
    // Constants that are not layer parameters stay.
    expect(after.get('add.c')).toEqual(before.get('add.c'));
    expect(after.get('clip.hi')).toEqual(before.get('clip.hi'));
    // Same seed, same weights; other seed, other weights.
    expect(values(reinitialize(model, { seed: 1 }))).toEqual(after);
    expect(values(reinitialize(model, { seed: 2 })).get('c1.w')).not.toEqual(c1);
    const s = await createSession(fresh);
    const out = await s.run({ x: new Tensor('float32', [2, 3, 9, 9], new Float32Array(2 * 243).fill(0.5)) });
    await s.release();
    expect(Array.from(Object.values(out)[0]!.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});
