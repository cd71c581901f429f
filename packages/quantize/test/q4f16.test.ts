import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { perplexity, readNpy } from '@mc/datasets';
import { loadOnnx, writeOnnx } from '@mc/io-onnx';
import { type Model, ModelBuilder, Tensor, inferShapes, modelStats } from '@mc/ir';
import { errorOf, seededNormal } from '@mc/ir/testing';
import { runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { type QuantizeOptions, quantize } from '../src/index.js';
import { randomGpt } from '../../verify/test/third-party.js';
import { EXACT_DQ, PY_ONNX, havePyOnnx, maxDiff, onnxChecker } from './helpers.js';
import { runWeb as runWebAll } from './helpers.js';

/** The first output of `model` in onnxruntime-web. */
async function runWeb(model: Model, feeds: Record<string, Tensor>): Promise<Float32Array> {
  return Object.values(await runWebAll(model, feeds))[0]!;
}

async function runNode(model: Model, feeds: Record<string, Tensor>): Promise<Float32Array> {
  return Object.values(await runModel(model, feeds))[0]!.data as Float32Array;
}

/** ids [T] → Gather(table [V, D]) → Gemm(·, table, transB=1) → logits [T, V]: an embedding with a tied head. */
function tiedLm(v = 64, d = 64): Model {
  const g = seededNormal(3);
  const b = new ModelBuilder({ opset: 17, irVersion: 8 });
  const ids = b.input('ids', 'int64', [5]);
  const table = b.initializer(
    'embed',
    new Tensor(
      'float32',
      [v, d],
      Float32Array.from({ length: v * d }, () => g() * 0.5),
    ),
  );
  const x = b.node('Gather', [table, ids], {}, { name: 'embed_lookup' });
  b.output(x, 'hidden');
  b.output(b.node('Gemm', [x, table], { transB: 1 }, { name: 'head' }), 'logits');
  return b.build();
}

const IDS = { ids: new Tensor('int64', [5], BigInt64Array.from([0n, 7n, 63n, 7n, 30n])) };

describe('quantized embeddings: GatherBlockQuantized 4/8-bit and int8 DequantizeLinear, in onnxruntime-node and -web', () => {
  const float = tiedLm();
  const forms = [
    ['int4', true],
    ['int4', false],
    ['int8', true],
    ['int8', false],
    ['int8-dq', true],
    ['int8-dq', false],
  ] as const;
  it.each(forms)(
    'embeddings %s (symmetric %s): every looked-up row within the reported max |ΔW| of the float table, node = web',
    async (form, symmetric) => {
      const { model, report } = await quantize(float, { mode: 'int4', embeddings: form, symmetric, blockSize: 16 });
      const lookup = report.nodes.find((n) => n.node === 'embed_lookup')!;
      expect(lookup.action).toMatch(
        form === 'int8-dq' ? /DequantizeLinear per row/ : new RegExp(`GatherBlockQuantized ${form === 'int4' ? 4 : 8}-bit block 16`),
      );
      expect(model.graph.nodes.some((n) => n.opType === (form === 'int8-dq' ? 'DequantizeLinear' : 'GatherBlockQuantized'))).toBe(true);
      expect(
        [...model.graph.initializers.values()].filter((v) => v.constValue?.dtype === 'float32' && v.constValue.size === 64 * 64),
      ).toEqual([]);
      const feeds = IDS;
      const ref = (await runModel(float, feeds)).hidden!.data as Float32Array;
      const got = (await runModel(model, feeds)).hidden!.data as Float32Array;
      expect(lookup.maxAbsError!).toBeGreaterThan(0);
      expect(maxDiff(got, ref)).toBeLessThanOrEqual(lookup.maxAbsError! * 1.0001 + 1e-6);
      expect(maxDiff(got, ref)).toBeGreaterThan(0);
      const ort = await import('onnxruntime-web');
      ort.env.wasm.numThreads = 1;
      const s = await ort.InferenceSession.create(writeOnnx(model));
      const web = (await s.run({ ids: new ort.Tensor('int64', IDS.ids.data as BigInt64Array, [5]) })).hidden!.data as Float32Array;
      await s.release();
      expect(maxDiff(web, got)).toBeLessThan(1e-6);
    },
  );

  it('a tied head: the table is stored once (MatMulNBits bytes, reshaped for GatherBlockQuantized) and both readers agree with the float model', async () => {
    const { model, report } = await quantize(float, { mode: 'int4', embeddings: 'int4', blockSize: 32 });
    expect(report.nodes.find((n) => n.node === 'embed_lookup')!.action).toMatch(/tied to the head's MatMulNBits weight/);
    const uint8 = [...model.graph.initializers.values()].filter((v) => v.constValue?.dtype === 'uint8');
    expect(uint8.map((v) => v.constValue!.size)).toEqual([64 * 32]); // one packed table: 64 rows × 64/2 bytes
    const ref = await runModel(float, IDS);
    const got = await runModel(model, IDS);
    for (const k of ['hidden', 'logits']) {
      const r = ref[k]!.data as Float32Array;
      const d = maxDiff(got[k]!.data as Float32Array, r);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThan(0.15 * Math.max(...Array.from(r, Math.abs)));
    }
    expect(maxDiff(await runWeb(model, IDS), got.hidden!.data as Float32Array)).toBeLessThan(1e-6);
    // the q4f16 form of the same model shares the table too, with float16 scales
    const { model: h } = await quantize(float, { mode: 'q4f16', embeddings: 'int4', blockSize: 32 });
    expect([...h.graph.initializers.values()].filter((v) => v.constValue?.dtype === 'uint8').length).toBe(1);
    expect(maxDiff((await runModel(h, IDS)).hidden!.data as Float32Array, got.hidden!.data as Float32Array)).toBeLessThan(0.01);
  });

  it("torch.onnx's form of a tied head (MatMul on a transposed copy of the table) is found by value and stored once too", async () => {
    const g = seededNormal(4);
    const [v, d] = [64, 32];
    const w = Float32Array.from({ length: v * d }, () => g());
    const wT = new Float32Array(v * d);
    for (let r = 0; r < v; r++) for (let c = 0; c < d; c++) wT[c * v + r] = w[r * d + c]!;
    const make = (head: Float32Array) => {
      const b = new ModelBuilder({ opset: 17, irVersion: 8 });
      const x = b.node(
        'Gather',
        [b.initializer('wte', new Tensor('float32', [v, d], w)), b.input('ids', 'int64', [5])],
        {},
        { name: 'wte_lookup' },
      );
      b.output(b.node('MatMul', [x, b.initializer('head_copy', new Tensor('float32', [d, v], head))], {}, { name: 'lm_head' }), 'logits');
      return b.build();
    };
    const { model, report } = await quantize(make(wT), { mode: 'q4f16', embeddings: 'int4' });
    expect(report.nodes.find((n) => n.node === 'wte_lookup')!.action).toMatch(/tied to the head's MatMulNBits weight/);
    expect([...model.graph.initializers.values()].filter((x) => x.constValue?.dtype === 'uint8').map((x) => x.constValue!.size)).toEqual([
      v * (d / 2),
    ]);
    const ref = (await runModel(make(wT), IDS)).logits!.data as Float32Array;
    const got = (await runModel(model, IDS)).logits!.data as Float32Array;
    expect(maxDiff(got, ref)).toBeLessThan(0.15 * Math.max(...Array.from(ref, Math.abs)));
    // a head that differs from the table in one value is not tied: two packed tensors
    const other = wT.slice();
    other[5] = other[5]! + 1;
    const { model: untied } = await quantize(make(other), { mode: 'q4f16', embeddings: 'int4' });
    expect([...untied.graph.initializers.values()].filter((x) => x.constValue?.dtype === 'uint8').length).toBe(2);
  });

  it.skipIf(!havePyOnnx)(`the tied and per-form outputs pass onnx.checker (Debian python3-onnx 1.12)${PY_ONNX}`, async () => {
    const failures: string[] = [];
    for (const opts of [
      { mode: 'int4', embeddings: 'int4' },
      { mode: 'q4f16', embeddings: 'int4' },
      { mode: 'q4f16', embeddings: 'int8', symmetric: false },
      { mode: 'int4', embeddings: 'int8-dq', symmetric: false },
    ] as const) {
      const e = onnxChecker((await quantize(float, { ...opts, blockSize: 16 })).model);
      if (e !== '') failures.push(`${JSON.stringify(opts)}: ${e}`);
    }
    expect(failures).toEqual([]);
  });

  it('GatherBlockQuantized has op facts: its output shape and type are inferred, and it adds no MACs', async () => {
    const { model } = await quantize(float, { mode: 'q4f16', embeddings: 'int4', blockSize: 32 });
    inferShapes(model);
    const n = model.graph.nodes.find((x) => x.opType === 'GatherBlockQuantized')!;
    expect(n.outputs[0]!.shape).toEqual([5, 64]);
    expect(n.outputs[0]!.dtype).toBe('float16');
    expect(modelStats(model).macs).toBe(modelStats(float).macs);
  });

  it('fp16 after int4 is refused with the way there: mode q4f16 on the float model', async () => {
    const { model } = await quantize(float, { mode: 'int4' });
    expect(await errorOf(quantize(model, { mode: 'fp16' }))).toMatch(
      /^E_UNSUPPORTED.*MatMulNBits.*mode q4f16 for int4 weights and float16 everything else/,
    );
  });

  it('bad embeddings forms, q4f16 with a format, and gptq without calibration are E_OPTION before any work', async () => {
    for (const opts of [
      { mode: 'int4', embeddings: 'int2' },
      { mode: 'q4f16', format: 'dequantize' },
      { mode: 'q4f16', method: 'gptq' },
      { mode: 'q4f16', blockSize: 48 },
    ]) {
      expect(await errorOf(quantize(float, opts as unknown as QuantizeOptions))).toMatch(/^E_OPTION/);
    }
  });
});

const gpt = randomGpt();
const GPT = gpt.why === undefined ? '' : ` (skipped: ${gpt.why})`;

describe.skipIf(gpt.why !== undefined)(`int4 / q4f16 / quantized embeddings on a torch.onnx GPT${GPT}`, () => {
  const cases: readonly [string, QuantizeOptions][] = [
    ['int4', { mode: 'int4' }],
    ['int4 embeddings int4', { mode: 'int4', embeddings: 'int4' }],
    ['int4 embeddings int8-dq', { mode: 'int4', embeddings: 'int8-dq' }],
    ['int4 dequantize (opset 21) embeddings int8', { mode: 'int4', format: 'dequantize', embeddings: 'int8' }],
    ['q4f16', { mode: 'q4f16' }],
    ['q4f16 embeddings int4 hqq', { mode: 'q4f16', embeddings: 'int4', method: 'hqq' }],
    ['q4f16 embeddings int8-dq asymmetric', { mode: 'q4f16', embeddings: 'int8-dq', symmetric: false }],
  ];
  const load = () => loadOnnx(join(gpt.dir, 'gpt.onnx'));
  const windows = () => {
    const v = readNpy(readFileSync(join(gpt.dir, 'valid', 'input_ids.npy')));
    const t = 16;
    const data = new BigInt64Array(2 * t);
    for (let r = 0; r < 2; r++) data.set((v.data as BigInt64Array).subarray(r * v.shape[1]!, r * v.shape[1]! + t), r * t);
    return { input_ids: new Tensor('int64', [2, t], data) };
  };

  it('q4f16 is at most 20 % of the float32 file (the size depends on the architecture only; random weights here)', async () => {
    const model = await load();
    const f32 = writeOnnx(model).byteLength;
    const { model: q, report } = await quantize(model, { mode: 'q4f16' });
    const bytes = writeOnnx(q).byteLength;
    expect(bytes / f32).toBeLessThanOrEqual(0.2);
    expect(report.nodes.some((n) => /MatMulNBits 4-bit block 32 symmetric rtn, float16 compute/.test(n.action))).toBe(true);
    expect(report.nodes.some((n) => /GatherBlockQuantized 8-bit block 32 symmetric, float16 compute/.test(n.action))).toBe(true);
    // every MatMulNBits reads float16: the float parts became float16
    inferShapes(q);
    for (const n of q.graph.nodes.filter((x) => x.opType === 'MatMulNBits')) expect(n.outputs[0]!.dtype).toBe('float16');
    expect(q.graph.outputs[0]!.dtype).toBe('float32');
  });

  it.each(cases)(
    '%s: loads and runs in onnxruntime-node and onnxruntime-web (wasm) with the same logits',
    async (_label, opts) => {
      const model = await load();
      const feeds = windows();
      const ref = await runNode(model, feeds);
      const { model: q } = await quantize(model, opts);
      // onnxruntime-node would run DequantizeLinear(int4) → MatMul as MatMulNBits with int8 activations: kept exact here
      const node = Object.values(await runModel(q, feeds, { sessionOptions: EXACT_DQ as never }))[0]!.data as Float32Array;
      const web = await runWeb(q, feeds);
      expect(node.every(Number.isFinite)).toBe(true);
      const scale = Math.max(...Array.from(ref, Math.abs));
      expect(maxDiff(node, ref)).toBeLessThan(0.5 * scale);
      // float16 compute rounds differently in the two runtimes; float32 compute agrees closely
      expect(maxDiff(web, node)).toBeLessThan((opts.mode === 'q4f16' ? 2e-2 : 1e-3) * Math.max(1, scale));
    },
    60_000,
  );

  it.skipIf(!havePyOnnx)(
    `every output passes onnx.checker (Debian python3-onnx 1.12; the opset-21 DequantizeLinear form is beyond it)${PY_ONNX}`,
    async () => {
      const model = await load();
      const failures: string[] = [];
      for (const [label, opts] of cases) {
        const { model: q } = await quantize(model, opts);
        const e = onnxChecker(q);
        const beyond = (q.opset('') ?? 0) > 17;
        if (beyond) expect(e, label).toMatch(/ir_version is higher than the checker's/);
        else if (e !== '') failures.push(`${label}: ${e}`);
      }
      expect(failures).toEqual([]);
    },
    120_000,
  );
});

// The bench's trained byte-level GPT (bench/transformer.bench.mjs trains it once into this cache, ~20 min on 2 cores).
const script = new URL('../../../bench/gpt/train_gpt.py', import.meta.url).pathname;
const trained = join(homedir(), '.cache', 'mc', 'gpt-bytes', createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12));
const TRAINED = existsSync(join(trained, 'gpt.onnx'))
  ? ''
  : ` (skipped: ${trained}/gpt.onnx is absent; node bench/transformer.bench.mjs trains it)`;

describe.skipIf(TRAINED !== '')(`q4f16 on the bench's trained GPT${TRAINED}`, () => {
  it('file ≤ 20 % of float32; perplexity within 0.005 of int4 alone (float16 and int8 embeddings add ~nothing); node = web', async () => {
    const model = await loadOnnx(join(trained, 'gpt.onnx'));
    const v = readNpy(readFileSync(join(trained, 'valid', 'input_ids.npy')));
    const n = v.shape[0]!;
    const width = v.shape[1]!;
    const windows = v.data as BigInt64Array;
    const pplNode = async (m: Model) => {
      const bytes = writeOnnx(m);
      const r = await perplexity(
        async (ids, b, t) => (await runModel(bytes, { input_ids: new Tensor('int64', [b, t], ids) })).logits!.data as Float32Array,
        windows,
        n,
        width,
        { batchSize: 64 },
      );
      return r.perplexity;
    };
    const { model: int4 } = await quantize(model, { mode: 'int4' });
    const { model: q } = await quantize(model, { mode: 'q4f16' });
    expect(writeOnnx(q).byteLength / writeOnnx(model).byteLength).toBeLessThanOrEqual(0.2);
    const [f, a, h] = [await pplNode(model), await pplNode(int4), await pplNode(q)];
    expect(a).toBeGreaterThan(f);
    expect(Math.abs(h - a)).toBeLessThan(0.005);
    const web = await perplexity(async (ids, b, t) => runWeb(q, { input_ids: new Tensor('int64', [b, t], ids) }), windows, 16, width, {
      batchSize: 16,
    });
    const node16 = await perplexity(async (ids, b, t) => runNode(q, { input_ids: new Tensor('int64', [b, t], ids) }), windows, 16, width, {
      batchSize: 16,
    });
    expect(Math.abs(web.perplexity - node16.perplexity)).toBeLessThan(1e-3);
  }, 120_000);
});
