import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir } from './helpers.js';

const mnist = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const NO_FILE = existsSync(mnist) ? '' : ` (skipped: ${mnist} is absent)`;

describe.skipIf(NO_FILE !== '')(`mc variants and mc lint on mnist-cntk${NO_FILE}`, () => {
  it('mc variants --set web writes onnx/ with the transformers.js names, variants.json and variants.md; its q8 passes webgpu lint, int8-dynamic fails it (exit 4); --ops-config writes the reduced-operator config', async () => {
    const out = tempDir();
    try {
      const r = await mc('variants', '--set', 'web', mnist, out);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(readdirSync(path.join(out, 'onnx')).sort()).toEqual([
        'model.onnx',
        'model_fp16.onnx',
        'model_q4.onnx',
        'model_q4f16.onnx',
        'model_quantized.onnx',
      ]);
      const report = JSON.parse(readFileSync(path.join(out, 'variants.json'), 'utf8'));
      expect(report.entries.map((e: { status: string }) => e.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
      expect(r.out).toMatch(/\| q8 \| model_quantized\.onnx \| ok \|/);
      expect(readFileSync(path.join(out, 'variants.md'), 'utf8')).toMatch(/accuracy_level/);

      // the web set's q8 is int8 DequantizeLinear weights: nothing WebGPU lacks
      const q8 = await mc('lint', '--target', 'webgpu', path.join(out, 'onnx', 'model_quantized.onnx'));
      expect(q8.out).toMatch(/0 finding\(s\) for webgpu/);
      expect(q8.code).toBe(0);
      const dyn = path.join(out, 'dyn.onnx');
      expect((await mc('quantize', '--mode', 'int8-dynamic', mnist, dyn)).code).toBe(0);
      const d = await mc('lint', '--target', 'webgpu', dyn);
      expect(d.code).toBe(4);
      expect(d.out).toMatch(/ConvInteger/);
      expect(d.out).toMatch(/fix: .*int8-static/);
      const config = path.join(out, 'ops.config');
      const q4 = await mc('lint', '--target', 'mobile', '--json', '--ops-config', config, path.join(out, 'onnx', 'model_q4.onnx'));
      expect(q4.code).toBe(0); // warnings only
      expect(JSON.parse(q4.out).findings.map((x: { opType: string }) => x.opType)).toContain('MatMulNBits');
      const lines = readFileSync(config, 'utf8').split('\n');
      expect(lines).toContain('com.microsoft;1;MatMulNBits');
      expect(lines.find((l) => l.startsWith('ai.onnx;'))).toMatch(/^ai\.onnx;\d+;.*\bConv\b/);
      expect((await mc('lint', '--target', 'gpu', mnist)).code).toBe(2);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
