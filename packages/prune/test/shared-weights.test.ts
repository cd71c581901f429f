import { attr, type Model, ModelBuilder, Tensor } from '@mc/ir';
import { randomFeeds, randomTensor } from '@mc/ir/testing';
import { assertNumericallyClose } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { prune } from '../src/index.js';

/**
 * torch.onnx's form of tied weights: one weight read by two Convs through Identity nodes, and one zero bias (a
 * Constant) shared through Identity by Convs of different groups. Output channels 0 and 4 of the tied weight are
 * exactly zero, so removing them changes no output.
 */
function tiedNet(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 4, 8, 8]);
  const w = randomTensor('float32', [8, 4, 3, 3], 1).data as Float32Array;
  const wd = Float32Array.from(w);
  for (const c of [0, 4]) wd.fill(0, c * 36, (c + 1) * 36);
  const W = b.initializer('W', new Tensor('float32', [8, 4, 3, 3], wd));
  const zero = b.node('Constant', [], { value: attr.tensor(new Tensor('float32', [8], new Float32Array(8))) });
  const pads = { pads: attr.ints([1, 1, 1, 1]) };
  const convA = b.node('Conv', [x, b.node('Identity', [W]), b.node('Identity', [zero])], pads, { name: 'convA' });
  const convB = b.node('Conv', [x, b.node('Identity', [W]), b.node('Identity', [zero])], pads, { name: 'convB' });
  const s = b.node('Add', [b.node('Relu', [convA]), b.node('Relu', [convB])]);
  const W2 = b.initializer('W2', randomTensor('float32', [8, 8, 3, 3], 2));
  b.output(b.node('Conv', [s, W2, b.node('Identity', [zero])], pads, { name: 'convC' }), 'y');
  return b.build();
}

describe('shared weights (copy on write, shared again when pruned alike)', () => {
  it('a weight tied between two Convs of one group is pruned once and stays shared; a bias shared across groups is untied; no output changes (≤ 1e-6)', async () => {
    const model = tiedNet();
    const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.25, importance: 'l1' });
    expect(report.groups.find((g) => g.roots.includes('convA'))!.removedChannels).toEqual({ convA: [0, 4], convB: [0, 4] });
    const node = (n: string) => out.graph.nodes.find((x) => x.name === n)!;
    const [a, bb, c] = [node('convA'), node('convB'), node('convC')];
    // Tied weight and bias: one pruned initializer each, read by both convs.
    expect(a.inputs[1]).toBe(bb.inputs[1]);
    expect(a.inputs[1]!.constValue!.dims).toEqual([6, 4, 3, 3]);
    expect(a.inputs[2]).toBe(bb.inputs[2]);
    expect(a.inputs[2]!.constValue!.dims).toEqual([6]);
    // convC's output is a graph output (fixed): it keeps the full zero bias, its weight loses the input channels.
    expect(c.inputs[2]!.constValue!.dims).toEqual([8]);
    expect(c.inputs[1]!.constValue!.dims).toEqual([8, 6, 3, 3]);
    expect(report.after.params).toBe(6 * 36 + 6 + 8 * 6 * 9 + 8);
    const close = await assertNumericallyClose(model, out, { feeds: [randomFeeds(model, 1)], atol: 1e-6 });
    expect(close.y!.maxAbs).toBeLessThanOrEqual(1e-6);
  });
});
