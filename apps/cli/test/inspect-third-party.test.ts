/**
 * `mc inspect` counts weights whatever form an exporter wrote them in: Paddle2ONNX's PP-OCRv4 recogniser has no
 * initializer at all, every weight is a Constant node. The independent count is Debian python3-onnx's, made at test
 * time with this rule: the element count of every initializer plus every Constant node's tensor (`value`; a
 * `value_float(s)` / `value_int(s)` attribute counts its elements), whatever its dtype (int64 shape constants included,
 * as initializers of that kind have always been counted).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ocrModel } from '../../../packages/verify/test/third-party.js';
import { mc } from './helpers.js';

const python = '/usr/bin/python3';
const COUNT = `
import sys, onnx
from functools import reduce
m = onnx.load(sys.argv[1])
size = lambda dims: reduce(lambda a, b: a * b, dims, 1)
n = sum(size(t.dims) for t in m.graph.initializer)
for node in m.graph.node:
    if node.op_type != 'Constant': continue
    for a in node.attribute:
        if a.name == 'value': n += size(a.t.dims)
        elif a.name in ('value_float', 'value_int'): n += 1
        elif a.name == 'value_floats': n += len(a.floats)
        elif a.name == 'value_ints': n += len(a.ints)
print(n)
`;

function pythonCount(file: string): { n?: number; why?: string } {
  if (!existsSync(python)) return { why: `${python} not found` };
  try {
    return { n: Number(execFileSync(python, ['-c', COUNT, file], { encoding: 'utf8', timeout: 60_000 }).trim()) };
  } catch (e) {
    return { why: `python3-onnx count failed (apt-get install python3-onnx): ${String((e as Error).message).split('\n')[0]}` };
  }
}

const rec = ocrModel('ch_PP-OCRv4_rec_infer.onnx');
const ref = rec.why === undefined ? pythonCount(rec.path) : { why: rec.why };

describe.skipIf(ref.why !== undefined)(
  `mc inspect on PP-OCRv4 rec (all weights in Constant nodes)${ref.why === undefined ? '' : ` (skipped: ${ref.why})`}`,
  () => {
    it('inspect --json: params within 1 % of the python3-onnx count (initializers + Constant tensors)', async () => {
      const r = await mc('inspect', '--json', rec.path);
      expect(r.code).toBe(0);
      const params = (JSON.parse(r.out) as { params: number }).params;
      expect(ref.n).toBeGreaterThan(2_000_000);
      expect(Math.abs(params - ref.n!) / ref.n!).toBeLessThanOrEqual(0.01);
      expect(params).toBe(ref.n); // the same rule, so in fact equal
    });
  },
);
