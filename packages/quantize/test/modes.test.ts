import { describe, expect, it } from 'vitest';
import { type Model, ModelBuilder, Tensor } from '@mc/ir';
import { countOps } from '@mc/ir/testing';
import { compareOutputs, runModel } from '@mc/verify';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { checkerFailures, EXACT_DQ, havePyOnnx, netFeeds, once, PY_ONNX, runWeb, smallNet } from './helpers.js';

const feeds = [netFeeds(11)];
const calibration = [netFeeds(1), netFeeds(2), netFeeds(3)];

interface Case {
  title: string;
  opts: QuantizeOptions;
  minCos: number;
  ops: Record<string, number>;
  /** paramBytes after / before at most */
  maxBytes: number;
  /** Default opset of the output; only blocked DequantizeLinear (int4 'dequantize') needs opset 21. Default 17. */
  opset?: number;
}

// Bounds measured on this random net (weights N(0, 0.1-0.3)); the real-data bounds are in mnist.test.ts.
const cases: Case[] = [
  { title: 'fp16: cos≥0.99999', opts: { mode: 'fp16' }, minCos: 0.99999, ops: { Cast: 2, Conv: 1, Gemm: 1 }, maxBytes: 0.51 },
  {
    title: 'int8-weights per-channel: cos≥0.9999',
    opts: { mode: 'int8-weights' },
    minCos: 0.9999,
    ops: { DequantizeLinear: 3 },
    maxBytes: 0.27,
  },
  {
    title: 'int8-weights per-tensor: cos≥0.999',
    opts: { mode: 'int8-weights', perChannel: false },
    minCos: 0.999,
    ops: { DequantizeLinear: 3 },
    maxBytes: 0.27,
  },
  {
    title: 'int8-dynamic ort-cpu: cos≥0.9995',
    opts: { mode: 'int8-dynamic' },
    minCos: 0.9995,
    ops: { DynamicQuantizeLinear: 3, ConvInteger: 1, MatMulInteger: 2 },
    maxBytes: 0.27,
  },
  {
    title: 'int8-dynamic ort-web (uint8 weights): cos≥0.9995',
    opts: { mode: 'int8-dynamic', target: 'ort-web' },
    minCos: 0.9995,
    ops: { ConvInteger: 1, MatMulInteger: 2 },
    maxBytes: 0.27,
  },
  {
    title: 'int8-dynamic per-channel MatMul: cos≥0.9995',
    opts: { mode: 'int8-dynamic', perChannel: true },
    minCos: 0.9995,
    ops: { MatMulInteger: 2 },
    maxBytes: 0.28,
  },
  {
    title: 'int8-static minmax: cos≥0.999',
    opts: { mode: 'int8-static', calibration },
    minCos: 0.999,
    ops: { QuantizeLinear: 4, DequantizeLinear: 8, Relu: 1 },
    maxBytes: 0.28,
  },
  {
    title: 'int8-static percentile: cos≥0.998',
    opts: { mode: 'int8-static', calibration, method: 'percentile' },
    minCos: 0.998,
    ops: { QuantizeLinear: 4 },
    maxBytes: 0.28,
  },
  {
    title: 'int8-static entropy uint8 reduceRange: cos≥0.995',
    opts: { mode: 'int8-static', calibration, method: 'entropy', activationType: 'uint8', reduceRange: true },
    minCos: 0.995,
    ops: { QuantizeLinear: 4 },
    maxBytes: 0.28,
  },
  {
    title: 'int8-static qoperator short names: cos≥0.999',
    opts: { mode: 'int8-static', calibration, format: 'qoperator', names: 'short' },
    minCos: 0.999,
    ops: { QLinearConv: 1, QLinearMatMul: 1 },
    maxBytes: 0.28,
  },
  {
    title: 'int4 MatMulNBits block 32 sym, Conv int8 per channel: cos≥0.99',
    opts: { mode: 'int4' },
    minCos: 0.99,
    ops: { 'com.microsoft::MatMulNBits': 2, Conv: 1, DequantizeLinear: 1 },
    maxBytes: 0.3,
  },
  {
    title: 'int4 MatMulNBits block 16, Conv int4 blocks (convBits 4): cos≥0.99',
    opts: { mode: 'int4', blockSize: 16, convBits: 4 },
    minCos: 0.99,
    ops: { 'com.microsoft::MatMulNBits': 2, Conv: 1, DequantizeLinear: 1, Reshape: 2 },
    maxBytes: 0.3,
    opset: 21,
  },
  {
    title: 'int4 MatMulNBits block 64 asym: cos≥0.99',
    opts: { mode: 'int4', blockSize: 64, symmetric: false },
    minCos: 0.99,
    ops: { 'com.microsoft::MatMulNBits': 2 },
    maxBytes: 0.3,
  },
  {
    title: 'int4 DequantizeLinear block 128 asym: cos≥0.99',
    opts: { mode: 'int4', format: 'dequantize', blockSize: 128, symmetric: false },
    minCos: 0.99,
    ops: { DequantizeLinear: 3, MatMul: 1, Gemm: 1 },
    maxBytes: 0.3,
    opset: 21,
  },
  {
    title: 'int4 DequantizeLinear block 32 sym: cos≥0.99',
    opts: { mode: 'int4', format: 'dequantize' },
    minCos: 0.99,
    ops: { DequantizeLinear: 3 },
    maxBytes: 0.3,
    opset: 21,
  },
  { title: 'kmeans 4-bit: cos≥0.99', opts: { mode: 'kmeans', bits: 4 }, minCos: 0.99, ops: { Gather: 3, BitShift: 3 }, maxBytes: 0.16 },
  { title: 'kmeans 8-bit: cos≥0.9999', opts: { mode: 'kmeans', bits: 8 }, minCos: 0.9999, ops: { Gather: 3 }, maxBytes: 0.32 },
  { title: 'kmeans 1-bit: cos≥0.6', opts: { mode: 'kmeans', bits: 1 }, minCos: 0.6, ops: { Gather: 3 }, maxBytes: 0.05 },
  { title: 'ternary: cos≥0.8', opts: { mode: 'ternary' }, minCos: 0.8, ops: { Gather: 3, Mul: 3 }, maxBytes: 0.1 },
  { title: 'binary: cos≥0.6', opts: { mode: 'binary' }, minCos: 0.6, ops: { Gather: 3, Mul: 3 }, maxBytes: 0.07 },
];

describe('every mode runs in onnxruntime-node and -web and close to the float model', async () => {
  const float = smallNet();
  const refs = await Promise.all(feeds.map((f) => runModel(float, f)));
  const quantized = new Map(cases.map((c) => [c.title, once(() => quantize(float, c.opts))]));
  for (const c of cases) {
    it(c.title, async () => {
      const { model, report } = await quantized.get(c.title)!();
      expect(model.opset(''), 'default opset').toBe(c.opset ?? 17);
      const ops = countOps(model);
      for (const [op, n] of Object.entries(c.ops)) expect(ops[op], `${op} count`).toBe(n);
      expect(report.after.paramBytes / report.before.paramBytes).toBeLessThanOrEqual(c.maxBytes);
      expect(report.nodes.length).toBeGreaterThan(0);
      for (const [i, f] of feeds.entries()) {
        const out = await runModel(model, f, { sessionOptions: EXACT_DQ as never });
        const cmp = compareOutputs(refs[i]!, out).logits!;
        expect(cmp.cosine).toBeGreaterThanOrEqual(c.minCos);
        const web = await runWeb(model, f);
        const node = out.logits!.data as Float32Array;
        const w = web.logits!;
        let dot = 0;
        let nn = 0;
        let ww = 0;
        for (let k = 0; k < node.length; k++) {
          dot += node[k]! * w[k]!;
          nn += node[k]! ** 2;
          ww += w[k]! ** 2;
        }
        expect(dot / Math.sqrt(nn * ww), 'onnxruntime-web agrees with -node').toBeGreaterThan(0.9999);
      }
    });
  }

  // onnx 1.12 (Debian) stops at opset 17, so the opset-21 cases (pinned above) are left to onnxruntime.
  it.skipIf(!havePyOnnx)(`onnx.checker accepts every opset-17 mode's model${PY_ONNX}`, async () => {
    const checked = cases
      .filter((c) => (c.opset ?? 17) <= 17)
      .map((c) => [c.title, async () => (await quantized.get(c.title)!()).model] as const);
    expect(checked.length).toBe(cases.length - 3);
    expect(await checkerFailures(checked)).toEqual([]);
  });

  it('the input model is not changed', async () => {
    const m = smallNet();
    const before = countOps(m);
    const init = [...m.graph.initializers.keys()];
    await quantize(m, { mode: 'int8-static', calibration });
    await quantize(m, { mode: 'fp16' });
    expect(countOps(m)).toEqual(before);
    expect([...m.graph.initializers.keys()]).toEqual(init);
  });

  it('exclude by node name and op type passes nodes through and reports them', async () => {
    const { model, report } = await quantize(float, { mode: 'int8-weights', exclude: ['conv', 'Gemm'] });
    expect(countOps(model).DequantizeLinear).toBe(1);
    const passed = report.passedThrough.map((p) => p.node);
    expect(passed).toContain('conv');
    expect(passed).toContain('fc2');
    const fp = await quantize(float, { mode: 'fp16', exclude: ['fc1'] });
    expect(fp.report.passedThrough.find((p) => p.node === 'fc1')?.reason).toMatch(/excluded/);
    const out = await runModel(fp.model, feeds[0]!);
    expect(compareOutputs(refs[0]!, out).logits!.cosine).toBeGreaterThan(0.9999);
  });

  it('per-channel axis comes from the op facts: ConvTranspose axis 1, Gemm transB=1 axis 0, MatMul axis 1', async () => {
    const b = new ModelBuilder({ opset: 17, irVersion: 8 });
    const x = b.input('x', 'float32', [1, 4, 5, 5]);
    const w = b.initializer(
      'ct_w',
      new Tensor(
        'float32',
        [4, 6, 3, 3],
        Float32Array.from({ length: 216 }, (_, i) => Math.sin(i) * (1 + ((i / 9) % 6))),
      ),
    );
    b.output(b.node('ConvTranspose', [x, w], { kernel_shape: [3, 3] }, { name: 'ct' }), 'y');
    const m = b.build();
    const { model } = await quantize(m, { mode: 'int8-weights' });
    const dq = model.graph.nodes.find((n) => n.opType === 'DequantizeLinear')!;
    expect(dq.attrInt('axis', 1)).toBe(1);
    expect(dq.inputs[1]!.constValue!.dims).toEqual([6]);
    const f = {
      x: new Tensor(
        'float32',
        [1, 4, 5, 5],
        Float32Array.from({ length: 100 }, (_, i) => Math.cos(i)),
      ),
    };
    expect(compareOutputs(await runModel(m, f), await runModel(model, f)).y!.cosine).toBeGreaterThan(0.9999);
    const net = await quantize(float, { mode: 'int8-weights' });
    const axes = Object.fromEntries(
      net.model.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').map((n) => [n.inputs[0]!.name, n.attrInt('axis', 1)]),
    );
    expect(axes).toEqual({ conv_w: 0, fc1_w: 1, fc2_w: 0 });
  });

  it('fp16 keepIoTypes=false makes the graph interface float16', async () => {
    const { model } = await quantize(float, { mode: 'fp16', keepIoTypes: false });
    expect(model.graph.inputs[0]!.dtype).toBe('float16');
    expect(model.graph.outputs[0]!.dtype).toBe('float16');
    expect(countOps(model).Cast ?? 0).toBe(0);
  });

  it('fp16 keeps a node whose weights exceed the float16 range in float32 (not clamped)', async () => {
    const m = smallNet();
    const w = m.graph.initializers.get('fc1_b')!;
    const data = Float32Array.from(w.constValue!.data as Float32Array);
    data[0] = 1e6;
    m.graph.initializers.get('fc1_b')!.constValue = new (w.constValue!.constructor as typeof import('@mc/ir').Tensor)(
      'float32',
      [64],
      data,
    );
    const { model, report } = await quantize(m, { mode: 'fp16' });
    expect(report.warnings.some((x) => x.code === 'W_CLAMP')).toBe(false);
    expect(report.passedThrough.find((p) => p.node === 'fc1_bias')?.reason).toMatch(
      /float16 cannot hold its numbers: weight 'fc1_b': 1 of its 64 values exceed/,
    );
    expect(compareOutputs(await runModel(m, feeds[0]!), await runModel(model, feeds[0]!)).logits!.cosine).toBeGreaterThan(0.99999);
  });

  it('fp16 keeps block-listed ops in float32 with Casts around them', async () => {
    const { model, report } = await quantize(float, { mode: 'fp16', blockList: ['MaxPool'] });
    expect(countOps(model).Cast).toBe(4);
    expect(report.passedThrough.map((p) => p.opType)).toContain('MaxPool');
    const out = await runModel(model, feeds[0]!);
    expect(compareOutputs(refs[0]!, out).logits!.cosine).toBeGreaterThan(0.99999);
  });

  it('kmeans: same seed, same model; calibration report lists ranges', async () => {
    const a = await quantize(float, { mode: 'kmeans', bits: 3, seed: 5 });
    const b = await quantize(float, { mode: 'kmeans', bits: 3, seed: 5 });
    const ia = [...a.model.graph.initializers.values()].map((v) => Array.from(v.constValue!.data as Uint8Array).join());
    const ib = [...b.model.graph.initializers.values()].map((v) => Array.from(v.constValue!.data as Uint8Array).join());
    expect(ia).toEqual(ib);
    const s = await quantize(float, { mode: 'int8-static', calibration });
    expect(s.report.calibration?.batches).toBe(3);
    expect(Object.keys(s.report.calibration!.ranges)).toContain('x');
  });
});

export type { Model };
