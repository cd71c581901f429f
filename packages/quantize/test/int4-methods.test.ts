import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadNamedFeeds, readNpy } from '@mc/datasets';
import { loadOnnx } from '@mc/io-onnx';
import { type Model, modelStats, Tensor } from '@mc/ir';
import { errorOf } from '@mc/ir/testing';
import { createSession } from '@mc/verify';
import { beforeAll, describe, expect, it } from 'vitest';
import { quantize } from '../src/index.js';
import { randomGpt } from '../../verify/test/third-party.js';
import { maxDiff, PY_ONNX, havePyOnnx, onnxChecker, runWeb } from './helpers.js';

const gpt = randomGpt();

/** Mean squared difference of the logits of `m` and the float model on the validation windows (first 64 tokens). */
async function logits(m: Model, ids: Tensor): Promise<Float32Array> {
  const s = await createSession(m);
  const y = (await s.run({ input_ids: ids })).logits!.data as Float32Array;
  await s.release();
  return y;
}

describe.skipIf(gpt.why !== undefined)(
  `int4 methods on a torch.onnx GPT (random weights)${gpt.why === undefined ? '' : ` (skipped: ${gpt.why})`}`,
  () => {
    let model: Model;
    let calibration: Awaited<ReturnType<typeof loadNamedFeeds>>;
    let ids: Tensor;
    let reference: Float32Array;
    const mse = new Map<string, number>();
    const outputs = new Map<string, Model>();

    beforeAll(async () => {
      model = await loadOnnx(join(gpt.dir, 'gpt.onnx'));
      calibration = await loadNamedFeeds(join(gpt.dir, 'calib'), ['input_ids'], { batchSize: 16, limit: 64 });
      const v = readNpy(readFileSync(join(gpt.dir, 'valid', 'input_ids.npy')));
      const n = Math.min(32, v.shape[0]!);
      const t = v.shape[1]! - 1;
      const data = new BigInt64Array(n * t);
      for (let r = 0; r < n; r++) data.set((v.data as BigInt64Array).subarray(r * (t + 1), r * (t + 1) + t), r * t);
      ids = new Tensor('int64', [n, t], data);
      reference = await logits(model, ids);
    });

    for (const method of ['rtn', 'hqq', 'gptq', 'awq'] as const) {
      it(`${method}: every MatMul becomes MatMulNBits and the model runs in onnxruntime-node with finite logits`, async () => {
        const { model: q, report } = await quantize(model, { mode: 'int4', blockSize: 32, method, calibration });
        expect(report.nodes.length).toBeGreaterThan(0);
        expect(report.nodes.every((n) => n.action.includes(`MatMulNBits 4-bit block 32 symmetric ${method}`))).toBe(true);
        expect(q.graph.nodes.filter((n) => n.opType === 'MatMul' && n.inputs[1]?.isInitializer()).length).toBe(0);
        // MatMulNBits is a registered op: the MACs of the model stay those of the float model.
        expect(modelStats(q).macs).toBe(modelStats(model).macs);
        const y = await logits(q, ids);
        expect(y.every(Number.isFinite)).toBe(true);
        let s = 0;
        for (let i = 0; i < y.length; i++) s += (y[i]! - reference[i]!) ** 2;
        mse.set(method, s / y.length);
        outputs.set(method, q);
      });
    }

    it('data-aware methods reproduce the float logits better than round-to-nearest (gptq ≥ 20 % lower MSE, awq not worse)', () => {
      const rtn = mse.get('rtn')!;
      expect(mse.get('gptq')!).toBeLessThan(rtn * 0.8);
      expect(mse.get('awq')!).toBeLessThanOrEqual(rtn * 1.0001);
    });

    it("every method's output runs in onnxruntime-web (wasm) with onnxruntime-node's logits", async () => {
      expect([...outputs.keys()]).toEqual(['rtn', 'hqq', 'gptq', 'awq']);
      const few = new Tensor('int64', [2, ids.dims[1]!], (ids.data as BigInt64Array).slice(0, 2 * ids.dims[1]!));
      for (const [method, q] of outputs) {
        const node = await logits(q, few);
        const web = (await runWeb(q, { input_ids: few })).logits!;
        expect(maxDiff(web, node), method).toBeLessThan(1e-3);
      }
    }, 120_000);

    it.skipIf(!havePyOnnx)(
      `every method's output passes onnx.checker${PY_ONNX}`,
      () => {
        expect(outputs.size).toBe(4);
        for (const [method, q] of outputs) expect(onnxChecker(q), method).toBe('');
      },
      120_000,
    );

    it('gptq in the DequantizeLinear form (opset 21) runs too', async () => {
      const { model: q } = await quantize(model, {
        mode: 'int4',
        blockSize: 32,
        method: 'gptq',
        format: 'dequantize',
        calibration: calibration.slice(0, 2),
      });
      expect(q.graph.nodes.filter((n) => n.opType === 'DequantizeLinear').length).toBeGreaterThan(0);
      expect((await logits(q, ids)).every(Number.isFinite)).toBe(true);
    });
  },
);

describe('int4 method options are checked before any work', () => {
  it('gptq/awq without calibration, awq with the dequantize form, and a bad damp are E_OPTION', async () => {
    for (const opts of [
      { mode: 'int4', method: 'gptq' },
      { mode: 'int4', method: 'awq', format: 'dequantize', calibration: [] },
      { mode: 'int4', method: 'gptq', damp: 2, calibration: [] },
      { mode: 'int4', method: 'best' },
      { mode: 'int4', blockSize: 48 },
    ] as const) {
      expect(await errorOf(quantize(undefined as unknown as Model, opts as never))).toMatch(/^E_OPTION/);
    }
  });
});
