import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '@mc/datasets';
import { ModelBuilder, Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { loadOnnx } from '@mc/io-onnx';
import { lintModel, type VariantsReport, WEB_FLOOR, variants, writeVariants } from '@mc/pipeline';
import { corpus } from '../../../bench/corpus.mjs';
import { ctcAlphabet, recExactMatch, recInput, renderLines, rendererMissing, textLines } from '../../../bench/ocr-task.mjs';

// The bench's trained byte-level GPT (bench/transformer.bench.mjs trains it once with Debian python3-torch).
const script = new URL('../../../bench/gpt/train_gpt.py', import.meta.url).pathname;
const gptDir = join(homedir(), '.cache', 'mc', 'gpt-bytes', createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12));
const GPT = existsSync(join(gptDir, 'gpt.onnx'))
  ? ''
  : ` (skipped: ${gptDir}/gpt.onnx is absent; node bench/transformer.bench.mjs trains it, needs python3-torch)`;
const ocr = corpus('ppocr');
const OCR = ocr.skip ?? rendererMissing();

/** Every variant ok (bnb4 included), smaller than float32, loaded by both runtimes. */
function expectSet(r: VariantsReport): void {
  const failed = r.entries.filter((e) => e.status !== 'ok').map((e) => `${e.dtype}: ${e.status} ${e.reasons.join('; ')}`);
  expect(failed).toEqual([]);
  expect(r.entries.map((e) => e.dtype)).toEqual(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']);
  const bnb4 = r.entries.find((e) => e.dtype === 'bnb4')!;
  expect(bnb4.floor).toBe(r.entries.find((e) => e.dtype === 'q4')!.floor); // int4's floor
  expect(bnb4.suits).toContain('wasm');
  expect(bnb4.suits).not.toContain('webgpu');
  for (const e of r.entries) {
    expect(e.cosine, e.dtype).toBeGreaterThanOrEqual(e.floor);
    expect(e.webCosine, e.dtype).toBeGreaterThanOrEqual(WEB_FLOOR);
    expect(e.latencyWebMs, e.dtype).toBeGreaterThan(0);
    if (e.dtype !== 'fp32') expect(e.ratio, e.dtype).toBeLessThan(1);
  }
  expect(r.accuracyLevel?.chosen).toBeTypeOf('number');
}

describe('bnb4 on a model with no MatMul weight', () => {
  it('is reported skipped with the reason (nothing quantized) and not written as a copy of float32', async () => {
    const g = seededNormal(1);
    const b = new ModelBuilder({ opset: 17, irVersion: 8 });
    const x = b.input('x', 'float32', [1, 3, 8, 8]);
    const w = b.initializer(
      'w',
      new Tensor(
        'float32',
        [16, 3, 3, 3],
        Float32Array.from({ length: 432 }, () => g() * 0.3),
      ),
    );
    b.output(b.node('Relu', [b.node('Conv', [x, w], { kernel_shape: [3, 3] }, { name: 'conv' })], {}, { name: 'relu' }), 'y');
    const result = await variants(b.build(), { web: false });
    const e = result.report.entries.find((x) => x.dtype === 'bnb4')!;
    expect(e.status).toBe('skipped');
    expect(e.reasons.join(' ')).toMatch(
      /^nothing quantized: .*no MatMul or Gemm.*weights in: Conv\).*Conv weights and embedding tables float32/,
    );
    expect(result.files.has('model_bnb4.onnx')).toBe(false);
    expect(result.files.has('model_q4.onnx')).toBe(true);
  }, 120_000);
});

describe.skipIf(GPT !== '')(`variants of the bench's GPT${GPT}`, () => {
  it('writes the transformers.js set: each loads in onnxruntime-node and -web, meets its floor, is smaller; q8 flagged for webgpu', async () => {
    const model = await loadOnnx(join(gptDir, 'gpt.onnx'));
    const v = readNpy(readFileSync(join(gptDir, 'valid', 'input_ids.npy')));
    const width = v.shape[1]!; // 64 inputs + 1 target
    const ids = v.data as BigInt64Array;
    const feeds = [0, 1, 2, 3].map((i) => ({ input_ids: new Tensor('int64', [1, width - 1], ids.slice(i * width, (i + 1) * width - 1)) }));
    const result = await variants(model, { feeds, inputs: '4 held-out byte windows' });
    const out = mkdtempSync(join(tmpdir(), 'mc-variants-'));
    try {
      writeVariants(result, out);
      expect(readdirSync(join(out, 'onnx')).sort()).toEqual(
        [
          'model.onnx',
          'model_bnb4.onnx',
          'model_fp16.onnx',
          'model_int8.onnx',
          'model_q4.onnx',
          'model_q4f16.onnx',
          'model_quantized.onnx',
          'model_uint8.onnx',
        ].sort(),
      );
      expectSet(result.report);
      const q8 = await loadOnnx(join(out, 'onnx', 'model_quantized.onnx'));
      const found = lintModel(q8, 'webgpu').findings.map((f) => f.opType);
      expect(found).toContain('MatMulInteger');
      expect(found).toContain('DynamicQuantizeLinear');
      expect(lintModel(await loadOnnx(join(out, 'onnx', 'model_q4.onnx')), 'webgpu').ok).toBe(true);
      // bnb4: every MatMul weight in MatMulBnb4; WebGPU has no kernel for it (warned), wasm runs it (nothing flagged)
      const bnb4 = await loadOnnx(join(out, 'onnx', 'model_bnb4.onnx'));
      const nBnb4 = bnb4.graph.nodes.filter((n) => n.opType === 'MatMulBnb4').length;
      expect(nBnb4).toBe(13); // 6 per block × 2 + the head; the two attention MatMuls have no constant weight
      const gpu = lintModel(bnb4, 'webgpu');
      expect(gpu.findings.map((f) => f.opType)).toEqual(Array(nBnb4).fill('MatMulBnb4'));
      expect(gpu.findings.every((f) => f.severity === 'warning' && /q4/.test(f.fix))).toBe(true);
      expect(lintModel(bnb4, 'wasm').findings).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 600_000);
});

describe.skipIf(OCR !== undefined)(`variants of PP-OCRv4 rec${OCR === undefined ? '' : ` (skipped: ${OCR})`}`, () => {
  it('writes the transformers.js set on rendered lines: loads in node and web, floors met, smaller; each reads 40 lines within 2 of float32', async () => {
    const model = await loadOnnx(ocr.files.rec);
    const feeds = renderLines(textLines(3, 7)).map((line: { img: unknown }) => {
      const x = recInput(line.img);
      return { x: new Tensor('float32', [...x.dims], x.data) };
    });
    const result = await variants(model, { feeds, inputs: '3 rendered text lines' });
    expectSet(result.report);
    // Task metric: every written variant reads 40 other rendered lines within 2 of float32's exact matches.
    const alphabet = ctcAlphabet(ocr.files.keys);
    const lines = renderLines(textLines(40, 11));
    const ref = await recExactMatch(ocr.files.rec, lines, alphabet);
    expect(ref.rate).toBeGreaterThanOrEqual(0.95);
    for (const [file, bytes] of result.files) {
      const got = await recExactMatch(bytes, lines, alphabet);
      expect(got.exact, file).toBeGreaterThanOrEqual(ref.exact - 2);
    }
  }, 900_000);
});
