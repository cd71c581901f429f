/**
 * Paddle2ONNX's PP-OCRv4 recogniser keeps every weight in a Constant node: factorize normalises them to initializers
 * first, so its Conv and MatMul layers are found and factorised.
 */
import { readFileSync } from 'node:fs';
import { readOnnx, writeOnnx } from '@mc/io-onnx';
import { randomTensor } from '@mc/ir/testing';
import { compareOutputs, runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { ocrModel } from '../../verify/test/third-party.js';
import { factorize } from '../src/index.js';

const rec = ocrModel('ch_PP-OCRv4_rec_infer.onnx');

describe.skipIf(rec.why !== undefined)(
  `PP-OCRv4 rec, every weight a Constant node${rec.why === undefined ? '' : ` (skipped: ${rec.why})`}`,
  () => {
    it('--ratio 0.5: Constant-node weights are found and factorised, fewer params, runs in onnxruntime-node', async () => {
      const orig = new Uint8Array(readFileSync(rec.path));
      const { model, report } = await factorize(readOnnx(orig), { ratio: 0.5 });
      const ops = new Set(report.nodes.map((n) => n.opType));
      expect(ops.has('MatMul') || ops.has('Conv')).toBe(true);
      expect(report.after.params).toBeLessThan(report.before.params);
      const feeds = { x: randomTensor('float32', [1, 3, 48, 320], 3) };
      const c = Object.values(compareOutputs(await runModel(orig, feeds), await runModel(writeOnnx(model), feeds)))[0]!;
      expect(c.cosine).toBeGreaterThan(0);
    });
  },
);
