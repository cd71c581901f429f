import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readNpy } from '@mc/datasets';
import { Tensor } from '@mc/ir';
import { runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { randomGpt } from '../../../packages/verify/test/third-party.js';
import { mc, tempDir } from './helpers.js';
import { npyBytes } from '../../../test-support/npy.js';

const gpt = randomGpt();

/** Perplexity computed here, independently of @mc/datasets: onnxruntime-node logits, float64 log-softmax. */
async function referencePerplexity(model: string, windows: BigInt64Array, n: number, width: number): Promise<number> {
  const t = width - 1;
  const ids = new BigInt64Array(n * t);
  for (let r = 0; r < n; r++) ids.set(windows.subarray(r * width, r * width + t), r * t);
  const logits = (await runModel(model, { input_ids: new Tensor('int64', [n, t], ids) })).logits!.data as Float32Array;
  const v = logits.length / (n * t);
  let nll = 0;
  for (let r = 0; r < n; r++) {
    for (let p = 0; p < t; p++) {
      const row = Array.from(logits.subarray((r * t + p) * v, (r * t + p + 1) * v));
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
      nll += lse - row[Number(windows[r * width + p + 1]!)]!;
    }
  }
  return Math.exp(nll / (n * t));
}

describe.skipIf(gpt.why !== undefined)(`mc eval --task lm${gpt.why === undefined ? '' : ` (skipped: ${gpt.why})`}`, () => {
  const model = path.join(gpt.dir, 'gpt.onnx');
  const valid = path.join(gpt.dir, 'valid');

  it('prints the perplexity on D/input_ids.npy and gives it in --json; --limit takes the first windows; it equals an independent count', async () => {
    const a = readNpy(readFileSync(path.join(valid, 'input_ids.npy')));
    const width = a.shape[1]!;
    const text = await mc('eval', model, '--task', 'lm', '--data-dir', valid, '--limit', '8');
    expect(text.code).toBe(0);
    expect(text.out).toMatch(
      new RegExp(`perplexity \\d+\\.\\d{4} \\(\\d+\\.\\d{4} nats per token\\) over ${8 * (width - 1)} tokens in 8 windows`),
    );
    const js = await mc('eval', model, '--task', 'lm', '--data-dir', valid, '--limit', '8', '--json');
    expect(js.code).toBe(0);
    const r = JSON.parse(js.out);
    expect(r).toMatchObject({ task: 'lm', windows: 8, tokens: 8 * (width - 1) });
    expect(r.perplexity).toBeCloseTo(Math.exp(r.nll), 10);
    const ref = await referencePerplexity(model, a.data as BigInt64Array, 8, width);
    expect(Math.abs(r.perplexity - ref) / ref).toBeLessThan(1e-5);
    expect(text.out).toContain(r.perplexity.toFixed(4));
  });

  it('int32 windows are read too; q4f16 from mc quantize is scored the same way and stays near the float model', async () => {
    const dir = tempDir();
    const a = readNpy(readFileSync(path.join(valid, 'input_ids.npy')));
    const n = 6;
    const width = a.shape[1]!;
    writeFileSync(
      path.join(dir, 'input_ids.npy'),
      npyBytes('<i4', [n, width], Int32Array.from((a.data as BigInt64Array).subarray(0, n * width), Number)),
    );
    const f = JSON.parse((await mc('eval', model, '--task', 'lm', '--data-dir', dir, '--json')).out);
    const q = path.join(dir, 'gpt.q4f16.onnx');
    const quant = await mc('quantize', '--mode', 'q4f16', model, q);
    expect(quant.code).toBe(0);
    expect((await mc('quantize', '--mode', 'q4f16', '--format', 'dequantize', model, path.join(dir, 'x.onnx'))).code).toBe(2);
    expect(statSync(q).size / statSync(model).size).toBeLessThanOrEqual(0.2);
    const g = JSON.parse((await mc('eval', q, '--task', 'lm', '--data-dir', dir, '--json')).out);
    expect(g.windows).toBe(n);
    expect(Math.abs(Math.log(g.perplexity / f.perplexity))).toBeLessThan(0.1);
  });

  it('no --data-dir is a usage error (2); a folder without input_ids.npy or float windows are unreadable input (3)', async () => {
    expect((await mc('eval', model, '--task', 'lm')).code).toBe(2);
    const dir = tempDir();
    const missing = await mc('eval', model, '--task', 'lm', '--data-dir', dir);
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/E_IO.*input_ids\.npy/);
    writeFileSync(path.join(dir, 'input_ids.npy'), npyBytes('<f4', [2, 3], new Float32Array(6)));
    const bad = await mc('eval', model, '--task', 'lm', '--data-dir', dir);
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/E_FORMAT.*float32 \[2, 3\].*int64/);
  });
});
