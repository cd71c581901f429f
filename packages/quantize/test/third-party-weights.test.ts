/**
 * Weights in the forms third-party exporters write them: Paddle2ONNX's PP-OCRv4 recogniser keeps all of them in
 * Constant nodes (0 initializers). quantize normalises them to initializers first, so the modes find and quantize the
 * Conv and MatMul weights and the file shrinks.
 */
import { readFileSync } from 'node:fs';
import { readOnnx, writeOnnx } from '@mc/io-onnx';
import { countOps, randomTensor } from '@mc/ir/testing';
import { compareOutputs, runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { ocrModel } from '../../verify/test/third-party.js';
import { quantize } from '../src/index.js';

const rec = ocrModel('ch_PP-OCRv4_rec_infer.onnx');

describe.skipIf(rec.why !== undefined)(
  `PP-OCRv4 rec, every weight a Constant node${rec.why === undefined ? '' : ` (skipped: ${rec.why})`}`,
  () => {
    // int4 blocks apply to the MatMul weights, Conv weights become int8 per channel (convBits 8, the default); 4 MatMuls
    // multiply two activations (attention). The task metric (rendered lines read) is in ppocr.test.ts.
    const cases = [
      { mode: 'int8-dynamic', ops: { ConvInteger: 38, MatMulInteger: 9 }, shrink: 0.7, cos: 0.95 },
      { mode: 'int4', ops: { 'com.microsoft::MatMulNBits': 9, DequantizeLinear: 38 }, shrink: 0.7, cos: 0.98 },
    ] as const;
    it.each(cases)(
      '$mode: quantizes the weights ($ops), the file shrinks by > $shrink, runs in onnxruntime-node (cos ≥ $cos on random input)',
      async ({ mode, ops, shrink, cos }) => {
        const orig = new Uint8Array(readFileSync(rec.path));
        const m = readOnnx(orig);
        const { model, report } = await quantize(m, { mode });
        const counts = countOps(model);
        for (const [op, n] of Object.entries(ops)) expect(counts[op], op).toBe(n);
        expect(counts.Constant).toBeUndefined();
        const bytes = writeOnnx(model);
        expect(bytes.length).toBeLessThan(orig.length * (1 - shrink));
        expect(report.after.paramBytes).toBeLessThan(report.before.paramBytes * (1 - shrink));
        const feeds = { x: randomTensor('float32', [1, 3, 48, 320], 3) };
        const [a, b] = [await runModel(orig, feeds), await runModel(bytes, feeds)];
        const c = Object.values(compareOutputs(a, b))[0]!;
        expect(c.cosine).toBeGreaterThanOrEqual(cos);
      },
    );
  },
);
