/**
 * Golden round trip judged by onnxruntime-node: for every ONNX backend node test that onnxruntime-node 1.30 passes
 * (../shared/onnx-backend-node/ORT_NODE_1.30.0_RESULTS.json), the model read and written by @mc/io-onnx must give
 * bit-identical outputs to the original file (optimizations disabled on both sides) and match the stored expected
 * outputs with the backend-test tolerance (rtol 1e-3, atol 1e-7).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnx, readOnnxTensor, writeOnnx } from '@mc/io-onnx';
import type { Tensor } from '@mc/ir';
import { describe, expect, test } from 'vitest';
import { allclose, compareOutputs, createSession, type Feeds, type ModelSession } from '../src/index.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

const corpus = sharedPath('onnx-backend-node');
const resultsFile = join(corpus, 'ORT_NODE_1.30.0_RESULTS.json');

/** Tests we cannot yet round-trip bit-identically, one line each with the reason. Target: empty. */
const KNOWN_GAPS: Record<string, string> = {};

const present = existsSync(resultsFile);

const SKIP_1 = skipNote(!present && (sharedAbsent('onnx-backend-node/ORT_NODE_1.30.0_RESULTS.json') ?? 'corpus incomplete'));
describe.skipIf(!present)(`ONNX backend node tests through onnxruntime-node${SKIP_1}`, () => {
  test('every ORT-passing model round-trips with bit-identical outputs and matches the stored outputs', async () => {
    const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, string>;
    const names = Object.keys(results)
      .filter((n) => results[n] === 'pass' && !(n in KNOWN_GAPS))
      .sort();
    const failures: string[] = [];
    let compared = 0;
    let outputsChecked = 0;
    const defaultLevel: string[] = [];
    const t0 = performance.now();
    const one = async (name: string): Promise<void> => {
      const dir = join(corpus, name);
      const orig = new Uint8Array(readFileSync(join(dir, 'model.onnx')));
      const round = writeOnnx(readOnnx(orig, { file: `${name}/model.onnx`, baseDir: dir }));
      const sessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, logSeverityLevel: 3 as const };
      let opts = { graphOptimizationLevel: 'disabled' as 'disabled' | 'all', sessionOptions };
      let a: ModelSession | undefined;
      let b: ModelSession | undefined;
      try {
        try {
          a = await createSession(orig, opts);
        } catch {
          // A few models load only with ORT's default optimizations (ORT inserts casts it then needs to fuse away);
          // both sides then use the default level.
          opts = { ...opts, graphOptimizationLevel: 'all' };
          a = await createSession(orig, opts);
          defaultLevel.push(name);
        }
        b = await createSession(round, opts);
        for (const set of readdirSync(dir)
          .filter((d) => d.startsWith('test_data_set_'))
          .sort()) {
          const files = readdirSync(join(dir, set));
          const feeds: Feeds = {};
          for (const [i, inputName] of a.inputNames.entries()) {
            const f = join(dir, set, `input_${i}.pb`);
            if (files.includes(`input_${i}.pb`)) feeds[inputName] = readOnnxTensor(new Uint8Array(readFileSync(f)));
          }
          const [ra, rb] = await Promise.all([a.run(feeds), b.run(feeds)]);
          for (const [out, c] of Object.entries(compareOutputs(ra, rb))) {
            if (!c.bitwise) failures.push(`${name}/${set} output '${out}': round trip differs (maxAbs ${c.maxAbs})`);
          }
          for (const [i, out] of a.outputNames.entries()) {
            const f = `output_${i}.pb`;
            if (!files.includes(f)) continue;
            const expected: Tensor = readOnnxTensor(new Uint8Array(readFileSync(join(dir, set, f))));
            outputsChecked++;
            if (!allclose(expected, rb[out]!, 1e-7, 1e-3)) failures.push(`${name}/${set} output '${out}' differs from ${f}`);
          }
        }
        compared++;
      } catch (e) {
        failures.push(`${name}: ${(e as Error).message.slice(0, 200)}`);
      } finally {
        await Promise.all([a?.release(), b?.release()]);
      }
    };
    // Two models in flight: sessions run on ORT's threads, so this keeps both cores busy.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < names.length) await one(names[next++]!);
    };
    await Promise.all([worker(), worker()]);
    const seconds = (performance.now() - t0) / 1000;
    expect(failures, failures.slice(0, 20).join('\n')).toEqual([]);
    expect(compared).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(1406 - Object.keys(KNOWN_GAPS).length);
    expect(outputsChecked).toBeGreaterThan(1406);
    expect(seconds).toBeLessThan(180);
    expect(defaultLevel.length).toBeLessThan(50);
  });
});
