/**
 * Every real model in ../shared/models/onnx (light/ and custom-ops/ included) round-trips through @mc/io-onnx; the
 * ones onnxruntime-node can load give bit-identical outputs before and after (optimizations disabled on both
 * sides); parameter counts match an independent count by Debian python3-onnx (fixtures/param-counts.json, made by
 * fixtures/gen-param-counts.py).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOnnx, writeOnnx } from '@mc/io-onnx';
import type { Model } from '@mc/ir';
import { describe, expect, test } from 'vitest';
import { assertNumericallyClose, createSession, randomFeeds } from '../src/index.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = sharedPath('models/onnx');
const counts = JSON.parse(readFileSync(join(here, 'fixtures/param-counts.json'), 'utf8')) as Record<
  string,
  { params: number; initializers: number; nodes: number }
>;

/** Models onnxruntime-node cannot load at all (their custom ops need onnxruntime-extensions / QONNX). */
const ORT_CANNOT_LOAD: Record<string, string> = {
  'custom-ops/pytorch_superresolution_with_pre_post_processing_op18.onnx': 'DecodeImage/EncodeImage need onnxruntime-extensions',
  'custom-ops/qonnx_tiny_unet_ch_last.onnx': 'qonnx.custom_op domains are not registered in onnxruntime',
};

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.onnx') ? [join(dir, e.name)] : [],
  );
}

function paramCount(m: Model): number {
  let n = 0;
  for (const v of m.graph.initializers.values()) n += v.constValue!.size;
  for (const v of m.graph.sparseInitializers.values()) n += v.sparseValue!.values.size;
  return n;
}

const files = existsSync(root) ? walk(root).sort() : [];

const SKIP_1 = skipNote(files.length === 0 && (sharedAbsent('models/onnx') ?? 'no model found'));
describe.skipIf(files.length === 0)(`real ONNX models${SKIP_1}`, () => {
  test.each(files.map((f) => [relative(root, f), f]))('%s: byte-identical round trip, param count = python3-onnx', (rel, file) => {
    const orig = new Uint8Array(readFileSync(file));
    const m = readOnnx(orig, { file });
    expect(Buffer.compare(writeOnnx(m), orig)).toBe(0);
    const expected = counts[rel];
    expect(expected, `no python3-onnx count for ${rel}: rerun fixtures/gen-param-counts.py`).toBeDefined();
    expect(paramCount(m)).toBe(expected!.params);
    expect(m.graph.initializers.size + m.graph.sparseInitializers.size).toBe(expected!.initializers);
    expect(m.graph.nodes.length).toBe(expected!.nodes);
  });

  const runnable = files.filter((f) => !(relative(root, f) in ORT_CANNOT_LOAD));
  test.each(runnable.map((f) => [relative(root, f), f]))(
    '%s: outputs bit-identical in onnxruntime-node after the round trip',
    async (_rel, file) => {
      const orig = new Uint8Array(readFileSync(file));
      const m = readOnnx(orig, { file });
      const report = await assertNumericallyClose(orig, writeOnnx(m), {
        feeds: randomFeeds(m, 7),
        bitwise: true,
        sessionOptions: { logSeverityLevel: 3 },
      });
      expect(Object.keys(report).length).toBeGreaterThan(0);
    },
  );

  for (const rel of Object.keys(ORT_CANNOT_LOAD)) {
    const f = join(root, rel);
    test.skipIf(!existsSync(f))(
      `${rel}: onnxruntime-node still refuses it (so the skip stays honest)${existsSync(f) ? '' : ' (skipped: the file is missing)'}`,
      async () => {
        await expect(createSession(new Uint8Array(readFileSync(f)), { sessionOptions: { logSeverityLevel: 3 } })).rejects.toMatchObject({
          code: 'E_VERIFY',
        });
      },
    );
  }
});
