import { Tensor } from '@mc/ir';
import { describe, expect, it } from 'vitest';
import { prune, pruneMasks, restoreMasks } from '../src/index.js';
import { mlp } from './models.js';

describe('pruning masks across techniques (restoreMasks)', () => {
  it('a step that moved pruned weights (training without the mask) gets them set back to zero, counted; a new tensor with the zeros kept gets its mask back; a replaced weight is reported lost', async () => {
    const { model: pruned } = await prune(mlp(), { mode: 'magnitude', sparsity: 0.9 });
    const masks = pruneMasks(pruned);
    expect(masks.size).toBe(3);
    const after = pruned.clone();
    const [a, b, c] = [...masks.keys()];
    // a: every entry + 1 (pruned ones move); b: a copy without the record; c: gone (replaced by something else).
    const ta = after.graph.initializers.get(a!)!.constValue!;
    after.graph.initializers.get(a!)!.constValue = new Tensor(
      'float32',
      ta.dims,
      Float32Array.from(ta.data as Float32Array, (x) => x + 1),
    );
    const tb = after.graph.initializers.get(b!)!.constValue!;
    after.graph.initializers.get(b!)!.constValue = new Tensor('float32', tb.dims, Float32Array.from(tb.data as Float32Array));
    const tc = after.graph.initializers.get(c!)!.constValue!;
    after.graph.initializers.get(c!)!.constValue = new Tensor('float32', [tc.size + 1], new Float32Array(tc.size + 1));
    const { model, report } = restoreMasks(pruned, after, 'finetune');
    const zeros = masks.get(a!)!.reduce((n, m) => n + (m === 0 ? 1 : 0), 0);
    expect(report.reapplied).toEqual([{ weight: a, entries: zeros }]);
    expect(report.kept).toEqual([b]);
    expect(report.lost).toEqual([{ weight: c, reason: `finetune turned it into float32[${tc.size + 1}]` }]);
    const da = model.graph.initializers.get(a!)!.constValue!.data as Float32Array;
    masks.get(a!)!.forEach((m, i) => expect(m === 0 ? da[i] === 0 : da[i] === Math.fround((ta.data as Float32Array)[i]! + 1)).toBe(true));
    expect(pruneMasks(model).get(b!)).toBe(masks.get(b!));
    expect(pruneMasks(after).size).toBe(0);
  });
});
