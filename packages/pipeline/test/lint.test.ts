import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import { lintModel, TARGET_RULES } from '@mc/pipeline';
import { quantize } from '@mc/quantize';

// A real Conv detector from ../shared (onnx/models, ultraface RFB-320).
const file = new URL('../../../../shared/models/onnx/ultraface-version-RFB-320.onnx', import.meta.url).pathname;
const NO_FILE = existsSync(file) ? '' : ` (skipped: ${file} is absent)`;

/** Op types onnxruntime-node wrapped in its own float32 Casts (InsertedPrecisionFreeCast) when it loaded `path`. */
async function wrappedByOrt(path: string): Promise<Set<string>> {
  const out = `${path}.ort.onnx`;
  await ort.InferenceSession.create(path, { graphOptimizationLevel: 'disabled', optimizedModelFilePath: out });
  const o = await loadOnnx(out);
  const wrapped = new Set<string>();
  for (const n of o.graph.nodes) {
    if (n.name.startsWith('InsertedPrecisionFreeCast')) continue;
    if (n.inputs.some((v) => v?.producer()?.name.startsWith('InsertedPrecisionFreeCast') === true)) wrapped.add(n.opType);
  }
  return wrapped;
}

describe.skipIf(NO_FILE !== '')(`mc lint on ultraface RFB-320${NO_FILE}`, () => {
  it('webgpu: int8-dynamic ConvInteger/DynamicQuantizeLinear are errors with the reason and the fix; int4 (int8 DQ Conv) passes', async () => {
    const m = await loadOnnx(file);
    expect(lintModel(m, 'webgpu')).toEqual({ target: 'webgpu', ok: true, findings: [] });
    const q = (await quantize(m, { mode: 'int8-dynamic' })).model;
    const r = lintModel(q, 'webgpu');
    expect(r.ok).toBe(false);
    const ops = new Set(r.findings.map((f) => f.opType));
    expect([...ops].sort()).toEqual(['ConvInteger', 'DynamicQuantizeLinear']);
    expect(r.findings.filter((f) => f.opType === 'ConvInteger').length).toBe(
      q.graph.nodes.filter((n) => n.opType === 'ConvInteger').length,
    );
    for (const f of r.findings) {
      expect(f.severity).toBe('error');
      expect(f.reason).toMatch(/WebGPU/);
      expect(f.fix).toMatch(/int8-static|q4/);
    }
    const int4 = (await quantize(m, { mode: 'int4' })).model;
    expect(lintModel(int4, 'webgpu').ok).toBe(true);
  }, 120_000);

  it('cpu: every op onnxruntime-node wraps in float32 Casts in the fp16 file is flagged, and nothing in float32', async () => {
    const m = await loadOnnx(file);
    expect(lintModel(m, 'cpu').findings).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'mc-lint-'));
    try {
      const half = (await quantize(m, { mode: 'fp16' })).model;
      const path = join(dir, 'model_fp16.onnx');
      await saveOnnx(half, path);
      const wrapped = await wrappedByOrt(path);
      const found = new Set(lintModel(half, 'cpu').findings.map((f) => f.opType));
      expect(wrapped.has('Conv')).toBe(true); // the measurement behind the table: no float16 Conv on the CPU EP
      const dataMovement = TARGET_RULES.cpu[0]!.ops;
      const missed = [...wrapped].filter((op) => !found.has(op) && !dataMovement.includes(op));
      expect(missed).toEqual([]);
      expect(found.has('Conv')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
