import { McError, type Model, ModelBuilder, Tensor } from '@mc/ir';
import { errorOf } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { assertFiniteWeights, checkAgreement, customDomainOps, GATE_THRESHOLDS, nonFiniteWeights, syntheticFeeds } from '../src/index.js';

/** y = x·W + b with W [4, 3]; `poison` sets W[0] (NaN/Inf). */
function dense(poison?: number, w0 = 0.5): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 4]);
  const data = Float32Array.from({ length: 12 }, (_, i) => (i === 0 ? (poison ?? w0) : ((i * 7) % 5) / 5 - 0.4));
  const w = b.initializer('W', new Tensor('float32', [4, 3], data));
  const bias = b.initializer('B', new Tensor('float32', [3], Float32Array.from([0.1, -0.2, 0.3])));
  b.output(b.node('Add', [b.node('MatMul', [x, w]), bias]), 'y');
  return b.build();
}

describe('GATE_THRESHOLDS: one row per technique', () => {
  it('lossless is exact, near-exact ≥ 0.98, lossy floors ≥ 0.5, training has no cosine bound', () => {
    expect(GATE_THRESHOLDS.convert).toMatchObject({ exact: true });
    for (const t of ['fp16', 'int8-weights', 'int8-dynamic'] as const) expect(GATE_THRESHOLDS[t].minCosine).toBeGreaterThanOrEqual(0.98);
    for (const t of ['lowrank', 'prune-magnitude', 'prune-channels', 'kmeans'] as const) expect(GATE_THRESHOLDS[t].minCosine).toBe(0.5);
    for (const t of ['finetune', 'distill'] as const) expect(GATE_THRESHOLDS[t].minCosine).toBeUndefined();
    for (const row of Object.values(GATE_THRESHOLDS)) expect(row.maxAccuracyDrop).toBeGreaterThanOrEqual(0);
  });
});

describe('syntheticFeeds respects type and range', () => {
  it('floats in [0, 1] by default and [0, 255·scale] with a scale; token ids below the embedding size', () => {
    const b = new ModelBuilder({ opset: 17 });
    const img = b.input('img', 'float32', [1, 1, 8, 8]);
    const ids = b.input('ids', 'int64', [1, 16]);
    const table = b.initializer('E', new Tensor('float32', [7, 2], new Float32Array(14)));
    b.output(b.node('Gather', [table, ids]), 'emb');
    b.output(b.node('Relu', [img]), 'r');
    const m = b.build();
    const f = syntheticFeeds(m, 0);
    const px = f.img!.data as Float32Array;
    expect(Math.min(...px)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...px)).toBeLessThanOrEqual(1);
    expect(Math.max(...(syntheticFeeds(m, 0, { scale: 1 }).img!.data as Float32Array))).toBeGreaterThan(100);
    const tok = [...(f.ids!.data as BigInt64Array)].map(Number);
    expect(Math.max(...tok)).toBeLessThan(7);
    expect(Math.min(...tok)).toBeGreaterThanOrEqual(0);
    expect(f.ids!.dims).toEqual([1, 16]);
  });
});

describe('checkAgreement (onnxruntime-node)', () => {
  it('convert: the same model is bitwise equal → ok', async () => {
    const r = await checkAgreement(dense(), dense(), { technique: 'convert' });
    expect(r.ok).toBe(true);
    expect(r.outputs.y!.bitwise).toBe(true);
  });

  it('convert: one weight changed by 1e-3 fails the exact bound', async () => {
    const r = await checkAgreement(dense(), dense(undefined, 0.501), { technique: 'convert' });
    expect(r.ok).toBe(false);
    expect(r.failures.join()).toMatch(/lossless/);
  });

  it('a NaN weight in the candidate fails every technique, even those without a cosine bound', async () => {
    for (const technique of ['fp16', 'lowrank', 'finetune', 'binary'] as const) {
      const r = await checkAgreement(dense(), dense(NaN), { technique });
      expect(r.ok, technique).toBe(false);
      expect(r.failures.join(), technique).toMatch(/'y' has NaN or Inf where the input model's does not/);
    }
  });

  it('+Inf in both models (same non-finite outputs) is accepted', async () => {
    const r = await checkAgreement(dense(Infinity), dense(Infinity), { technique: 'fp16' });
    expect(r.failures).toEqual([]);
  });

  it('lossy floor: a sign-flipped output (cosine −1) fails lowrank at 0.5', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['N', 4]);
    b.output(b.node('Neg', [b.node('Relu', [x])]), 'y');
    const flipped = b.build();
    const c = new ModelBuilder({ opset: 17 });
    c.output(c.node('Relu', [c.input('x', 'float32', ['N', 4])]), 'y');
    const r = await checkAgreement(c.build(), flipped, { technique: 'lowrank' });
    expect(r.ok).toBe(false);
    expect(r.failures.join()).toMatch(/cosine -1\.0+ < 0\.5/);
  });

  it('a custom-domain op ORT has no kernel for: E_UNSUPPORTED naming op, domain and --no-verify', async () => {
    const b = new ModelBuilder({ opset: 17, opsets: { 'my.ops': 1 } });
    const x = b.input('x', 'float32', [1, 4]);
    b.output(b.node('Frobnicate', [x], {}, { domain: 'my.ops', name: 'f0' }), 'y');
    const m = b.build();
    expect(customDomainOps(m)).toEqual([{ node: 'f0', opType: 'Frobnicate', domain: 'my.ops' }]);
    expect(await errorOf(checkAgreement(m, m, { technique: 'int8-weights' }))).toMatch(
      /^E_UNSUPPORTED: verification needs onnxruntime to run op Frobnicate \(domain my\.ops\).*pass --no-verify to write the unverified model/,
    );
  });
});

describe('non-finite weights policy', () => {
  it('nonFiniteWeights names the tensor, index and count; assertFiniteWeights throws E_NUMERIC with the fix', () => {
    expect(nonFiniteWeights(dense())).toEqual([]);
    expect(nonFiniteWeights(dense(NaN))).toEqual([{ tensor: 'W', index: 0, value: NaN, count: 1 }]);
    let err: unknown;
    try {
      assertFiniteWeights(dense(-Infinity), 'm.onnx');
    } catch (e) {
      err = e;
    }
    expect(McError.is(err) && err.code).toBe('E_NUMERIC');
    expect((err as Error).message).toMatch(/weight 'W' holds -Infinity at element 0 .* in m\.onnx; .*fix or retrain it/);
  });
});

describe('an output the input model holds constant on the check inputs is flagged', () => {
  it('Relu(-x - 1) is 0 on every synthetic input in [0, 1]: constant 0; x + 1 varies: not flagged', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['batch', 4]);
    const one = b.initializer('one', new Tensor('float32', [], new Float32Array([1])));
    b.output(b.node('Relu', [b.node('Sub', [b.node('Neg', [x]), one])]), 'dead', { dtype: 'float32', shape: ['batch', 4] });
    b.output(b.node('Add', [x, one]), 'live', { dtype: 'float32', shape: ['batch', 4] });
    const m = b.build();
    const r = await checkAgreement(m, m.clone(), { technique: 'int8-weights' });
    expect(r.ok).toBe(true);
    expect(r.outputs.dead!.constant).toBe(0);
    expect(r.outputs.live!.constant).toBeUndefined();
  });
});
