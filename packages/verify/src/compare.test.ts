import { McError, ModelBuilder, Tensor } from '@mc/ir';
import { describe, expect, test } from 'vitest';
import { allclose, assertNumericallyClose, compareOutputs, compareTensor, randomFeeds, runModel } from './index.js';

const f32 = (dims: number[], v: number[]) => new Tensor('float32', dims, Float32Array.from(v));

describe('compareTensor', () => {
  test('identical tensors: bitwise, cosine 1, top-1 1', () => {
    const c = compareTensor(f32([2, 3], [1, 2, 3, 3, 2, 1]), f32([2, 3], [1, 2, 3, 3, 2, 1]));
    expect(c).toEqual({ count: 6, maxAbs: 0, maxRel: 0, cosine: 1, top1: 1, bitwise: true });
  });

  test('measures abs/rel error, cosine and argmax agreement per row', () => {
    const c = compareTensor(f32([2, 2], [1, 2, 4, 3]), f32([2, 2], [1, 2.5, 2, 3]));
    expect(c.maxAbs).toBeCloseTo(2);
    expect(c.maxRel).toBeCloseTo(0.5);
    expect(c.top1).toBe(0.5);
    expect(c.bitwise).toBe(false);
    expect(c.cosine).toBeLessThan(1);
  });

  test('NaN equals NaN; NaN against a number is infinitely far', () => {
    expect(compareTensor(f32([2], [NaN, 1]), f32([2], [NaN, 1])).maxAbs).toBe(0);
    expect(compareTensor(f32([2], [NaN, 1]), f32([2], [0, 1])).maxAbs).toBe(Infinity);
  });

  test('allclose follows numpy (|a-b| <= atol + rtol*|ref|)', () => {
    expect(allclose(f32([2], [1000, 0]), f32([2], [1000.9, 0]), 1e-7, 1e-3)).toBe(true);
    expect(allclose(f32([2], [1000, 0]), f32([2], [1001.1, 0]), 1e-7, 1e-3)).toBe(false);
    expect(allclose(new Tensor('int64', [1], new BigInt64Array([5n])), new Tensor('int64', [1], new BigInt64Array([5n])), 0, 0)).toBe(true);
  });

  test('a missing output is an E_VERIFY error', () => {
    expect(() => compareOutputs({ y: f32([1], [1]) }, {})).toThrow(McError);
  });
});

describe('runModel / assertNumericallyClose in onnxruntime-node', () => {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 4]);
  const w = b.initializer('w', f32([4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1]));
  b.output(b.node('MatMul', [x, w]), 'y', { dtype: 'float32', shape: [1, 3] });
  const model = b.build();

  test('runs an IR model', async () => {
    const out = await runModel(model, { x: f32([1, 4], [1, 2, 3, 4]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([5, 6, 7]);
  });

  test('bitwise equal to itself; a perturbed weight fails with the measured figures', async () => {
    const feeds = randomFeeds(model, 0);
    const same = await assertNumericallyClose(model, model, { feeds, bitwise: true });
    expect(same.y!.bitwise).toBe(true);
    const other = model.clone();
    other.graph.initializers.get('w')!.constValue = f32([4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1.001]);
    await expect(assertNumericallyClose(model, other, { feeds, bitwise: true })).rejects.toMatchObject({ code: 'E_VERIFY' });
    const r = await assertNumericallyClose(model, other, { feeds, minCosine: 0.999, atol: 1e-2 });
    expect(r.y!.maxAbs).toBeGreaterThan(0);
  });
});
