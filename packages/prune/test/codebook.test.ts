import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readOnnx, writeOnnx } from '@mc/io-onnx';
import { biasOf, type Model, ModelBuilder, Tensor, type Value, weightOf } from '@mc/ir';
import { randomFeeds, seededRandom } from '@mc/ir/testing';
import { assertNumericallyClose, runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { chooseGapCode, codeTensors, encodeGaps, gapSteps } from '../src/codebook.js';
import { pruneStored } from './stored.js';
import { mlp } from './models.js';

/** x[2,64] → Gemm 48x64 (transB, bias) → Relu → Gemm 64→10 (bias) → y; inputs 0–15 are dead (whole weight columns zero). */
function deadInputs(opset: number, seed = 4): Model {
  const rand = seededRandom(seed);
  const b = new ModelBuilder({ opset });
  const x = b.input('x', 'float32', [2, 64]);
  const w1 = new Tensor(
    'float32',
    [48, 64],
    Float32Array.from({ length: 48 * 64 }, (_, i) => (i % 64 < 16 ? 0 : rand() * 2 - 1)),
  );
  const t = (dims: number[]) =>
    new Tensor(
      'float32',
      dims,
      Float32Array.from({ length: dims.reduce((a, c) => a * c, 1) }, () => rand() * 2 - 1),
    );
  const h = b.node('Relu', [b.node('Gemm', [x, b.initializer('w1', w1), b.initializer('b1', t([48]))], { transB: 1 }, { name: 'fc1' })]);
  b.output(b.node('Gemm', [h, b.initializer('w2', t([48, 10])), b.initializer('b2', t([10]))], {}, { name: 'fc2' }), 'y');
  return b.build();
}

/** Exposes the decoded weights and biases of `names` as extra graph outputs. */
function withDecoded(model: Model, layers: readonly string[]): { model: Model; outputs: Map<string, string> } {
  const m = model.clone();
  const outputs = new Map<string, string>();
  for (const name of layers) {
    const node = m.graph.nodes.find((n) => n.name === name)!;
    const vs: [string, Value | undefined][] = [
      [`${name}.w`, weightOf(node)?.value],
      [`${name}.b`, biasOf(node)?.value],
    ];
    for (const [key, v] of vs) {
      if (v === undefined || v.isInitializer() || m.graph.outputs.includes(v)) continue;
      m.graph.outputs.push(v);
      outputs.set(key, v.name);
    }
  }
  return { model: m, outputs };
}

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('codebook stream', () => {
  it('gap codes: every gap sequence decodes back to its positions; long zero runs take one long skip', () => {
    const rand = seededRandom(7);
    const gaps: number[] = [];
    for (let i = 0; i < 3000; i++) gaps.push(i % 100 === 99 ? 300 + Math.floor(rand() * 5) : 1 + Math.floor(-Math.log(1 - rand()) * 10));
    const { code, count } = chooseGapCode(gaps);
    const codes = encodeGaps(gaps, code);
    expect(codes.length).toBe(count);
    expect(Math.max(...codes)).toBeLessThan(2 ** code.bits);
    expect(code.skips.some((s) => s >= 290)).toBe(true);
    const steps = gapSteps(code);
    const want: number[] = [];
    let p = -1;
    for (const g of gaps) want.push((p += g));
    const got: number[] = [];
    p = -1;
    for (const c of codes) {
      p += Math.abs(steps[c]!);
      if (steps[c]! > 0) got.push(p);
    }
    expect(got).toEqual(want);
    // Width 1 with one skip of 1 is a bitmap: a dense run costs one bit per element.
    expect(chooseGapCode(Array.from({ length: 50 }, () => 1))).toEqual({ code: { bits: 1, entries: 1, skips: [1] }, count: 50 });
  });

  /** Decoded tensors (read out of onnxruntime) equal codeTensors' own, bit for bit; the model equals the plain form. */
  async function checkExact(model: Model, half: boolean): Promise<Model> {
    const dense = await pruneStored(model, { mode: 'magnitude', sparsity: 0.8, storage: 'dense' });
    const cb = await pruneStored(model, { mode: 'magnitude', sparsity: 0.8, storage: 'packed', codebook: 4 });
    expect(cb.report.weights.map((w) => [w.weight, w.codebook?.bias?.name])).toEqual([
      ['w1', 'b1'],
      ['w2', 'b2'],
    ]);
    // Expected: each tensor through its own 16-value k-means codebook (b2 has 10 values: kept).
    const names = ['w1', 'b1', 'w2', 'b2'];
    const want = codeTensors(
      names.map((n) => {
        const v = dense.model.graph.initializers.get(n)!;
        return { value: v, dims: [...v.constValue!.dims], data: v.constValue!.data as Float32Array };
      }),
      4,
    );
    expect(want.every((c) => c.half === half)).toBe(true);
    const { model: probe, outputs } = withDecoded(cb.model, ['fc1', 'fc2']);
    const got = await runModel(probe, randomFeeds(model, 1));
    for (const [k, key] of ['fc1.w', 'fc1.b', 'fc2.w', 'fc2.b'].entries()) {
      expect(bitsOf(got[outputs.get(key)!]!.data as Float32Array)).toEqual(bitsOf(want[k]!.decoded));
    }
    const ref = dense.model.clone();
    for (const [k, n] of names.entries()) {
      const v = ref.graph.initializers.get(n)!;
      v.constValue = new Tensor('float32', v.constValue!.dims, want[k]!.decoded);
    }
    await assertNumericallyClose(ref, cb.model, {
      feeds: [randomFeeds(model, 2), randomFeeds(model, 3)],
      bitwise: true,
      graphOptimizationLevel: 'basic',
    });
    expect(cb.report.weights[0]!.codebook!.swapped).toBe(true);
    // The decoder is load-time work: no MACs per sample added.
    expect(cb.report.after.macs).toBe(cb.report.before.macs);
    return cb.model;
  }

  for (const opset of [17, 11]) {
    it(`opset ${opset}: onnxruntime decodes the k-means-quantised weights and biases bit for bit and folds the whole decoder; the layout with the dead inputs first is kept`, async () => {
      const out = await checkExact(deadInputs(opset), true);
      // onnxruntime folds every decoder node at session creation (none has a data-dependent output size).
      const ort = await import('onnxruntime-node');
      const dir = mkdtempSync(path.join(tmpdir(), 'mc-prune-'));
      try {
        const file = path.join(dir, 'opt.onnx');
        const s = await ort.InferenceSession.create(writeOnnx(out), { graphOptimizationLevel: 'basic', optimizedModelFilePath: file });
        await s.release();
        expect(readOnnx(readFileSync(file)).graph.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Relu', 'Gemm']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('shared values beyond float16 range: the codebooks stay float32, still bit for bit', async () => {
    const model = deadInputs(17);
    const v = model.graph.initializers.get('w1')!;
    v.constValue = new Tensor(
      'float32',
      v.constValue!.dims,
      (v.constValue!.data as Float32Array).map((x) => x * 1e5),
    );
    await checkExact(model, false);
  });

  it('two 512×512 weights at 50 %: 262k entries in one run of gap codes, runs in onnxruntime', async () => {
    const rand = seededRandom(9);
    const b = new ModelBuilder({ opset: 17 });
    let h = b.input('x', 'float32', [1, 512]);
    for (const i of [0, 1])
      h = b.node(
        'MatMul',
        [
          h,
          b.initializer(
            `w${i}`,
            new Tensor(
              'float32',
              [512, 512],
              Float32Array.from({ length: 512 * 512 }, () => rand() * 2 - 1),
            ),
          ),
        ],
        {},
        { name: `mm${i}` },
      );
    b.output(h, 'y');
    const model = b.build();
    const dense = await pruneStored(model, { mode: 'magnitude', sparsity: 0.5, storage: 'dense' });
    const { model: out, report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.5, storage: 'packed', codebook: 4 });
    expect(report.weights.map((w) => w.codebook?.entries)).toEqual([16, 16]);
    const r = await assertNumericallyClose(dense.model, out, {
      feeds: [randomFeeds(model, 1)],
      minCosine: 0.99,
      graphOptimizationLevel: 'basic',
    });
    expect(r.y!.cosine).toBeGreaterThan(0.99);
  });

  it('opset < 11: no codebook, a W_COMPAT warning says why', async () => {
    const model = deadInputs(9);
    const { report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.8, storage: 'packed', codebook: 4 });
    expect(report.weights.every((w) => w.codebook === undefined)).toBe(true);
    expect(report.warnings.find((w) => w.code === 'W_COMPAT')?.message).toMatch(/codebook storage needs opset ≥ 11.*declares opset 9/);
  });

  it('a bias read by another layer stays float32; a MatMul + Add bias is not a layer bias', async () => {
    const { model: out, report } = await pruneStored(mlp(), { mode: 'magnitude', sparsity: 0.9, storage: 'packed', codebook: 4 });
    expect(report.weights.map((w) => w.codebook?.bias?.name)).toEqual([undefined, 'b2', 'b3']);
    expect(out.graph.initializers.get('b1')?.constValue?.dtype).toBe('float32');
    expect(out.graph.initializers.has('b2')).toBe(false);
  });
});
