import { describe, expect, it } from 'vitest';
import { McError, type Tensor } from '@mc/ir';
import { countOps } from '@mc/ir/testing';
import { loadOnnx, writeOnnx } from '@mc/io-onnx';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { runModel } from '@mc/verify';
import {
  EXACT_DQ,
  havePyOnnx,
  haveMnist,
  MNIST,
  mnistFeeds,
  mnistModel,
  mnistTest,
  netFeeds,
  once,
  onnxChecker,
  PY_ONNX,
  runWeb,
  smallNet,
} from './helpers.js';

const calibration = [netFeeds(1), netFeeds(2), netFeeds(3)];
const smallQop = once(() => quantize(smallNet(), { mode: 'int8-static', calibration, format: 'qoperator' }));
const mnistShort = once(async () => {
  const float = await loadOnnx(mnistModel);
  const train = mnistTest(64, 'train');
  const opts = { mode: 'int8-static', calibration: [...mnistFeeds(train.images, 0, 64)] } as const;
  return { float, qdq: await quantize(float, opts), small: await quantize(float, { ...opts, format: 'qoperator', names: 'short' }) };
});

describe("int8-static format 'qoperator': QLinearConv / QLinearMatMul written out", () => {
  it('smallNet: one QLinearConv and one QLinearMatMul, int8 MaxPool/Reshape between, same outputs as the QDQ form in onnxruntime-node and -web', async () => {
    const qdq = await quantize(smallNet(), { mode: 'int8-static', calibration });
    const qop = await smallQop();
    const ops = countOps(qop.model);
    expect(ops.QLinearConv).toBe(1);
    expect(ops.QLinearMatMul).toBe(1);
    expect(ops.Conv ?? 0).toBe(0);
    expect(ops.MatMul ?? 0).toBe(0);
    expect(ops.Gemm).toBe(1); // Gemm keeps its QDQ form (QGemm is a com.microsoft op)
    // The report names the op each layer became.
    const actions = qop.report.nodes.map((n) => `${n.opType} ${n.action}`);
    expect(actions.filter((a) => /^(Conv|MatMul) QLinear(Conv|MatMul): int8/.test(a))).toHaveLength(2);
    expect(actions.filter((a) => /^Gemm QDQ /.test(a))).toHaveLength(1);
    expect(writeOnnx(qop.model).byteLength).toBeLessThan(writeOnnx(qdq.model).byteLength);
    for (const seed of [11, 12]) {
      const f = netFeeds(seed);
      const a = (await runModel(qdq.model, f, { sessionOptions: EXACT_DQ as never })).logits!.data as Float32Array;
      const b = (await runModel(qop.model, f)).logits!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst, 'QOperator vs QDQ in onnxruntime-node').toBeLessThan(1e-5);
      const w = (await runWeb(qop.model, f)).logits!;
      for (let i = 0; i < a.length; i++) expect(Math.abs(w[i]! - b[i]!)).toBeLessThan(1e-4);
    }
  });

  it.skipIf(!havePyOnnx)(`smallNet qoperator: onnx.checker accepts it${PY_ONNX}`, async () => {
    expect(onnxChecker((await smallQop()).model)).toBe('');
  });

  it('bad format is an option error before any work', async () => {
    const e = await quantize(smallNet(), { mode: 'int8-static', calibration, format: 'qlinear' } as unknown as QuantizeOptions).catch(
      (x: unknown) => x,
    );
    expect(McError.is(e) && e.code).toBe('E_OPTION');
    const n = await quantize(smallNet(), { mode: 'fp16', names: 'tiny' } as unknown as QuantizeOptions).catch((x: unknown) => x);
    expect(McError.is(n) && n.code).toBe('E_OPTION');
  });

  it.skipIf(!haveMnist)(
    `mnist-cntk: qoperator with names 'short' is ≤ 27 % of the float file and agrees with the QDQ form${MNIST}`,
    async () => {
      const { float, qdq, small } = await mnistShort();
      expect(writeOnnx(small.model).byteLength / writeOnnx(float).byteLength).toBeLessThanOrEqual(0.27);
      expect(small.model.graph.inputs.map((v) => v.name)).toEqual(['Input3']);
      expect(small.model.graph.nodes.every((n) => n.name === '')).toBe(true);
      const { images } = mnistTest(50);
      for (const f of mnistFeeds(images, 0, 50)) {
        const a = (await runModel(qdq.model, f, { sessionOptions: EXACT_DQ as never })).Plus214_Output_0!.data as Float32Array;
        const b = (await runModel(small.model, f)).Plus214_Output_0!.data as Float32Array;
        for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(a[i]!)));
      }
    },
  );

  it.skipIf(!haveMnist || !havePyOnnx)(
    `mnist-cntk qoperator short names: onnx.checker accepts it${haveMnist ? PY_ONNX : MNIST}`,
    async () => {
      expect(onnxChecker((await mnistShort()).small.model)).toBe('');
    },
  );
});

export type { Tensor };
