import { errorOf } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@mc/ir';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { netFeeds, smallNet } from './helpers.js';

const code = errorOf;

describe('bad input gives coded errors before any work', () => {
  const m = smallNet();

  it('static mode without calibration data → E_OPTION', async () => {
    expect(await code(quantize(m, { mode: 'int8-static' } as unknown as QuantizeOptions))).toMatch(
      /^E_OPTION: .*calibration data is required/,
    );
  });

  it('calibration data of the wrong shape → E_OPTION naming the input', async () => {
    const bad = [{ x: new Tensor('float32', [2, 3, 5, 5], new Float32Array(150)) }];
    expect(await code(quantize(m, { mode: 'int8-static', calibration: bad }))).toMatch(
      /^E_OPTION: calibration batch 0: input 'x' is float32\[2, 3, 5, 5\]/,
    );
    expect(await code(quantize(m, { mode: 'int8-static', calibration: [{ y: netFeeds(1).x! }] }))).toMatch(/no tensor for model input 'x'/);
    expect(await code(quantize(m, { mode: 'int8-static', calibration: [] }))).toMatch(/yielded no batches/);
  });

  it('bits / block size out of range → E_OPTION', async () => {
    expect(await code(quantize(m, { mode: 'kmeans', bits: 9 }))).toMatch(/^E_OPTION: .*bits must be an integer in 1..8, got 9/);
    expect(await code(quantize(m, { mode: 'kmeans', bits: 0 }))).toMatch(/^E_OPTION/);
    expect(await code(quantize(m, { mode: 'int4', blockSize: 48 as 32 }))).toMatch(/^E_OPTION: .*blockSize must be 16, 32, 64, 128 or 256/);
    expect(await code(quantize(m, { mode: 'int9' } as unknown as QuantizeOptions))).toMatch(/^E_OPTION: .*mode must be one of/);
  });

  it('model already quantized → E_UNSUPPORTED', async () => {
    const { model } = await quantize(m, { mode: 'int8-weights' });
    expect(await code(quantize(model, { mode: 'int4' }))).toMatch(
      /^E_UNSUPPORTED: the model is already quantized: node .* is DequantizeLinear/,
    );
    const half = await quantize(m, { mode: 'fp16' });
    expect(await code(quantize(half.model, { mode: 'fp16' }))).toMatch(/^E_UNSUPPORTED: the model already has float16 weights/);
  });

  it('bf16 → E_UNSUPPORTED with the measured reason', async () => {
    expect(await code(quantize(m, { mode: 'bf16' }))).toMatch(/^E_UNSUPPORTED: bf16: onnxruntime 1.30 has no bfloat16 kernels/);
  });

  it('abort signal stops the work', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(quantize(m, { mode: 'fp16', signal: ac.signal })).rejects.toThrow();
  });
});
