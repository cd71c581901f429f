import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '@mc/datasets';
import { Tensor } from '@mc/ir';
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

/** Every variant but bnb4 ok, smaller than float32, loaded by both runtimes. */
function expectSet(r: VariantsReport): void {
  const failed = r.entries.filter((e) => e.status === 'failed').map((e) => `${e.dtype}: ${e.reasons.join('; ')}`);
  expect(failed).toEqual([]);
  expect(r.entries.map((e) => e.dtype)).toEqual(['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4']);
  expect(r.entries.find((e) => e.dtype === 'bnb4')!.status).toBe('skipped');
  for (const e of r.entries.filter((x) => x.status === 'ok')) {
    expect(e.cosine, e.dtype).toBeGreaterThanOrEqual(e.floor);
    expect(e.webCosine, e.dtype).toBeGreaterThanOrEqual(WEB_FLOOR);
    expect(e.latencyWebMs, e.dtype).toBeGreaterThan(0);
    if (e.dtype !== 'fp32') expect(e.ratio, e.dtype).toBeLessThan(1);
  }
  expect(r.accuracyLevel?.chosen).toBeTypeOf('number');
}

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
