import { attr, ModelBuilder } from '@mc/ir';
import { countOps, randomFeeds, randomTensor } from '@mc/ir/testing';
import { assertNumericallyClose } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { factorize } from '../src/index.js';
import { lowRankish } from './models.js';

/** Gemm(transA=1) on x [K=32, M=3] with W [32, 24] (or [24, 32] with transB), C [24], at `opset`. */
function gemm(opset: number, transB: boolean) {
  const b = new ModelBuilder({ opset });
  const x = b.input('x', 'float32', [32, 3]);
  const w = b.initializer('w', lowRankish(transB ? [24, 32] : [32, 24], 31));
  const c = b.initializer('c', randomTensor('float32', [24], 32));
  b.output(
    b.node('Gemm', [x, w, c], { transA: 1, transB: transB ? 1 : 0, alpha: attr.float(1.5), beta: attr.float(0.5) }, { name: 'g' }),
    'y',
  );
  return b.build();
}

describe('Gemm variants: full rank matches the original to 1e-5 in ORT', () => {
  for (const [opset, transB] of [
    [17, false],
    [17, true],
    [9, true],
  ] as const) {
    it(`opset ${opset}, transA=1, transB=${transB ? 1 : 0}${opset < 11 ? ' (first factor gets a zero C)' : ''}`, async () => {
      const model = gemm(opset, transB);
      const { model: out, report } = await factorize(model, { rank: 24, onlyIfSmaller: false });
      expect(report.nodes[0]?.replaced).toBe(true);
      expect(countOps(out).Gemm).toBe(2);
      await assertNumericallyClose(model, out, { feeds: randomFeeds(model, 1), atol: 1e-5, rtol: 1e-5 });
    });
  }
});
