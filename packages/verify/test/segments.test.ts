import { writeOnnx } from '@mc/io-onnx';
import { ModelBuilder, Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { quantize } from '@mc/quantize';
import { describe, expect, test } from 'vitest';
import { checkAgreement, createSession, planSegments, randomFeeds, runModel, segmentModel } from '../src/index.js';

/** 8 MatMul layers of 64×64 (16 KiB each), a skip connection over 3 layers and an output taken in the middle. */
function chain() {
  const b = new ModelBuilder({ opset: 17 });
  const x0 = b.input('x', 'float32', ['batch', 64]);
  const g = seededNormal(5);
  let x = x0;
  let skip = x0;
  let mid = x0;
  for (let i = 0; i < 8; i++) {
    const w = b.initializer(
      `w${i}`,
      new Tensor(
        'float32',
        [64, 64],
        Float32Array.from({ length: 64 * 64 }, () => g() * 0.15),
      ),
    );
    x = b.node('Tanh', [b.node('MatMul', [x, w])]);
    if (i === 1) skip = x;
    if (i === 4) x = b.node('Add', [x, skip]);
    if (i === 3) mid = x;
  }
  b.output(x, 'y', { dtype: 'float32', shape: ['batch', 64] });
  b.output(mid, 'mid', { dtype: 'float32', shape: ['batch', 64] });
  return b.build();
}

describe('a model larger than one session runs in segments', () => {
  test('the plan cuts by weight bytes; border values include the skip connection and the middle output', () => {
    const m = chain();
    const segs = planSegments(m, 40 * 1024);
    expect(segs.length).toBe(4); // two 16 KiB weights per segment
    for (const s of segs) expect(s.weightBytes).toBeLessThanOrEqual(40 * 1024);
    expect(segs.map((s) => s.end - s.start).reduce((a, b) => a + b, 0)).toBe(m.graph.nodes.length);
    // the skip value (layer 1's Tanh) is read by segment 2 too
    const skipName = m.graph.nodes[3]!.outputs[0]!.name;
    expect(segs[2]!.inputs).toContain(skipName);
    const part = segmentModel(m, segs[1]!);
    expect(part.graph.initializers.size).toBe(2);
    expect(part.graph.inputs.map((v) => v.name).sort()).toEqual([...segs[1]!.inputs].sort());
    expect(m.graph.nodes.length).toBe(chain().graph.nodes.length); // the model itself is untouched
  });

  test('segmented outputs are bitwise equal to one session (optimisations off), several batches at once', async () => {
    const m = chain();
    const feeds = [randomFeeds(m, 1), randomFeeds(m, 2)];
    const opts = { graphOptimizationLevel: 'disabled' as const };
    const whole = await Promise.all(feeds.map((f) => runModel(writeOnnx(m), f, opts)));
    const s = await createSession(m, { ...opts, segments: { above: 0, bytes: 40 * 1024 } });
    const parts = await s.runMany(feeds);
    await s.release();
    for (const [i, r] of parts.entries()) {
      for (const name of ['y', 'mid']) {
        expect(r[name]!.dims).toEqual(whole[i]![name]!.dims);
        expect(Buffer.from(r[name]!.data as Float32Array).equals(Buffer.from(whole[i]![name]!.data as Float32Array))).toBe(true);
      }
    }
  });

  test('the gate checks a quantized model segment by segment and catches a broken one', async () => {
    const m = chain();
    const { model: q } = await quantize(m, { mode: 'int8-weights' });
    const segments = { above: 0, bytes: 40 * 1024 };
    const ok = await checkAgreement(m, q, { technique: 'int8-weights', segments });
    expect(ok.ok).toBe(true);
    expect(ok.outputs.y!.cosine).toBeGreaterThan(0.999);
    const broken = q.clone();
    const w = [...broken.graph.initializers.values()].find((v) => v.constValue?.dtype === 'float32' && v.constValue.size === 64)!;
    w.constValue = new Tensor('float32', [64], new Float32Array(64).fill(Number.NaN)); // a layer's scales
    const bad = await checkAgreement(m, broken, { technique: 'int8-weights', segments });
    expect(bad.ok).toBe(false);
    expect(bad.failures.join(' ')).toMatch(/NaN/);
  });
});
