/**
 * Seeded fuzzing: bit flips and truncations of real models must give a model or a coded McError, never another
 * exception, a crash or a hang (each case is timed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { McError } from '@mc/ir';
import { seededRandom } from '@mc/ir/testing';
import { describe, expect, test } from 'vitest';
import { readOnnx, writeOnnx } from '../src/index.js';
import { backendNode, hasModels, onnxModels } from './paths.js';
import { sharedAbsent, skipNote } from '../../../test-support/shared.js';

const seeds = [
  join(onnxModels, 'mnist-cntk-opset8.onnx'),
  join(onnxModels, 'hls4ml_conv2d_small_mp_keras.onnx'),
  join(onnxModels, 'image_classifier32.onnx'),
  join(onnxModels, 'light/light_squeezenet.onnx'),
  join(backendNode, 'test_if/model.onnx'),
  join(backendNode, 'test_loop11/model.onnx'),
  join(backendNode, 'test_scan9_sum/model.onnx'),
  join(backendNode, 'test_layer_normalization_2d_axis0_expanded/model.onnx'),
  join(backendNode, 'test_constant/model.onnx'),
].filter((f) => existsSync(f));

const CASES = Number(process.env.FUZZ_CASES ?? 1200);

describe.skipIf(!hasModels)(`fuzzed models${skipNote(sharedAbsent('models/onnx'))}`, () => {
  test(`${CASES} seeded bit flips / truncations: a model or a coded error, each case < 1 s`, () => {
    const bases = seeds.map((f) => new Uint8Array(readFileSync(f)));
    const rand = seededRandom(12345);
    const codes: Record<string, number> = {};
    let slowest = 0;
    for (let i = 0; i < CASES; i++) {
      const base = bases[i % bases.length]!;
      let b: Uint8Array;
      if (i % 4 === 3) {
        b = base.subarray(0, Math.floor(rand() * base.length));
      } else {
        b = base.slice();
        const flips = 1 + Math.floor(rand() * 8);
        for (let k = 0; k < flips; k++) {
          const pos = Math.floor(rand() * b.length);
          b[pos] = b[pos]! ^ (1 << Math.floor(rand() * 8));
        }
      }
      const t0 = performance.now();
      let code = 'ok';
      try {
        const m = readOnnx(b, { file: `case-${i}.onnx` });
        writeOnnx(m);
      } catch (e) {
        if (!McError.is(e)) throw new Error(`case ${i}: non-McError ${(e as Error).stack ?? String(e)}`);
        code = e.code;
      }
      codes[code] = (codes[code] ?? 0) + 1;
      slowest = Math.max(slowest, performance.now() - t0);
    }
    expect(slowest).toBeLessThan(1000);
    expect(Object.values(codes).reduce((a, b) => a + b, 0)).toBe(CASES);
    expect(Object.keys(codes).every((c) => ['ok', 'E_FORMAT', 'E_TRUNCATED', 'E_UNSUPPORTED', 'E_IO'].includes(c))).toBe(true);
  });
});
