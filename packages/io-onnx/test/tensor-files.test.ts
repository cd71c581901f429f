/**
 * Every TensorProto file of the ONNX backend node corpus (input_N.pb / output_N.pb of each test_data_set whose graph value is
 * a tensor) reads and writes back to the same bytes: all dtypes, including string, bfloat16, float8, int4 and complex.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { readOnnx, readOnnxTensor, writeOnnxTensor } from '../src/index.js';
import { backendNode, hasBackendNode } from './paths.js';
import { sharedAbsent, skipNote } from '../../../test-support/shared.js';

describe.skipIf(!hasBackendNode)(`ONNX test-data tensors${skipNote(sharedAbsent('onnx-backend-node'))}`, () => {
  test('read -> write gives the same bytes for every tensor file', () => {
    const failures: string[] = [];
    const dtypes = new Set<string>();
    let files = 0;
    for (const name of readdirSync(backendNode).filter((d) => d.startsWith('test_'))) {
      const dir = join(backendNode, name);
      const g = readOnnx(new Uint8Array(readFileSync(join(dir, 'model.onnx')))).graph;
      const inputs = g.inputs.filter((v) => !v.isInitializer());
      for (const set of readdirSync(dir).filter((d) => d.startsWith('test_data_set_'))) {
        const check = (kind: string, i: number, isTensor: boolean): void => {
          const f = join(dir, set, `${kind}_${i}.pb`);
          if (!isTensor || !existsSync(f)) return;
          const bytes = new Uint8Array(readFileSync(f));
          try {
            const t = readOnnxTensor(bytes, { file: f });
            dtypes.add(t.dtype);
            const out = writeOnnxTensor(t);
            if (Buffer.compare(out, bytes) !== 0) failures.push(`${name}/${set}/${kind}_${i}.pb: bytes differ`);
          } catch (e) {
            failures.push(`${name}/${set}/${kind}_${i}.pb: ${(e as Error).message}`);
          }
          files++;
        };
        inputs.forEach((v, i) => check('input', i, v.type?.kind === 'tensor'));
        g.outputs.forEach((v, i) => check('output', i, v.type?.kind === 'tensor'));
      }
    }
    expect(failures, failures.slice(0, 10).join('\n')).toEqual([]);
    expect(files).toBeGreaterThan(4000);
    for (const d of ['string', 'bfloat16', 'float8e4m3fn', 'int4', 'uint4', 'float16', 'uint64', 'float4e2m1', 'float8e8m0'])
      expect(dtypes).toContain(d);
  });
});
