import { existsSync } from 'node:fs';
import { loadOnnx } from '@mc/io-onnx';
import { describe, expect, it } from 'vitest';
import { l1RelError, selectDenseRank, selectTuckerRanks, TuckerErrorOracle, tuckerParams } from '../src/kernels/rank-select.js';
import { matmul } from '../src/kernels/matmul.js';
import { svd, truncate } from '../src/kernels/svd.js';
import { tucker2 } from '../src/kernels/tucker2.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

const file = sharedPath('models/onnx/mnist-cntk-opset8.onnx');

const SKIP_1 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'));
describe.skipIf(!existsSync(file))(`rank selection on real trained kernels (mnist-cntk), checked by brute force${SKIP_1}`, async () => {
  const model = existsSync(file) ? await loadOnnx(file) : undefined;
  const init = (name: string) => Float64Array.from(model!.graph.initializers.get(name)!.constValue!.data as Float32Array);

  it.each([
    ['Parameter5', 8, 1, 25],
    ['Parameter87', 16, 8, 25],
  ] as const)('%s: the pair is the cheapest feasible one', (name, cout, cin, s) => {
    const w = init(name);
    const oracle = new TuckerErrorOracle(w, tucker2(w, cout, cin, s));
    for (const bound of [0.1, 0.2, 0.3, 0.5, 0.7]) {
      const c = selectTuckerRanks(oracle, bound);
      let best = s * cin * cout;
      for (let x = 1; x <= cin; x++)
        for (let y = 1; y <= cout; y++) if (oracle.error(x, y) <= bound) best = Math.min(best, tuckerParams(cin, cout, s, x, y));
      if (best === s * cin * cout) expect(c).toBeUndefined();
      else expect(c?.params).toBe(best);
    }
  });

  it('Parameter193 (256x10 dense): the rank is the smallest meeting the bound', () => {
    const w = init('Parameter193'); // [16,4,4,10] = [256, 10] row-major
    const f = svd(w, 256, 10);
    for (const bound of [0.1, 0.2, 0.3, 0.5, 0.7]) {
      const c = selectDenseRank(w, f, bound);
      const errs = Array.from({ length: 9 }, (_, i) => {
        const t = truncate(f, i + 1);
        const us = new Float64Array(256 * t.rank);
        for (let r = 0; r < 256; r++) for (let j = 0; j < t.rank; j++) us[r * t.rank + j] = t.u[r * t.rank + j]! * t.s[j]!;
        return l1RelError(w, matmul(us, t.vt, 256, t.rank, 10));
      });
      const brute = errs.findIndex((e) => e <= bound);
      expect(c?.rank).toBe(brute < 0 ? undefined : brute + 1);
    }
  });
});
