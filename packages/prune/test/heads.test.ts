import { join } from 'node:path';
import { loadOnnx } from '@mc/io-onnx';
import { type Model, Tensor, inferShapes, modelStats, weightOf } from '@mc/ir';
import { runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { prune } from '../src/index.js';
import { randomGpt } from '../../verify/test/third-party.js';

// The byte-level GPT of bench/gpt/train_gpt.py (2 blocks, d 96, 4 heads of 24, MLP 384) as torch.onnx exports it: the
// head split is Reshape(·, Concat(Shape…, 4, 24)) after the Q/K/V MatMuls, the merge Reshape(·, Concat(…, 96)).
const gpt = randomGpt();

function ids(b: number, t: number, seed: number): Tensor<'int64'> {
  const data = new BigInt64Array(b * t);
  for (let i = 0; i < data.length; i++) data[i] = BigInt((i * 37 + seed * 11) % 256);
  return new Tensor('int64', [b, t], data);
}

async function logits(model: Model, x: Tensor<'int64'>): Promise<Float32Array> {
  return (await runModel(model, { input_ids: x })).logits!.data as Float32Array;
}

/** Zeroes rows `rows` of the constant weight of node `name` (what removing those input features amounts to). */
function zeroRows(model: Model, name: string, rows: readonly number[]): void {
  const node = model.graph.nodes.find((n) => n.name === name)!;
  const w = weightOf(node)!;
  const t = w.tensor!;
  const data = Float32Array.from(t.data as Float32Array);
  const cols = t.dims[1]!;
  for (const r of rows) data.fill(0, r * cols, (r + 1) * cols);
  node.replaceInput(w.index, model.graph.addInitializer(model.graph.uniqueName(`${w.value.name}_zeroed`), new Tensor('float32', t.dims, data)));
}

describe.skipIf(gpt.why !== undefined)(`attention heads and MLP neurons of a torch.onnx GPT${gpt.why === undefined ? '' : ` (skipped: ${gpt.why})`}`, () => {
  it('removes a quarter of the heads (Q/K/V/O and the head count of both Reshapes) and of the MLP neurons', async () => {
    const model = await loadOnnx(join(gpt.dir, 'gpt.onnx'));
    const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.25 });
    const heads = report.groups.filter((g) => g.headSize !== undefined);
    expect(heads.map((g) => [g.roots.length, g.channels, g.removed, g.headSize])).toEqual([[3, 4, 1, 24], [3, 4, 1, 24]]);
    expect(heads[0]!.members.map((m) => m.node)).toContain('/blocks.0/o/MatMul');
    const mlp = report.groups.filter((g) => g.roots.length === 1 && g.roots[0]!.endsWith('/up/MatMul'));
    expect(mlp.map((g) => [g.channels, g.removed])).toEqual([[384, 96], [384, 96]]);
    for (const g of heads) for (const r of g.roots) expect(g.removedChannels[r]!.length).toBe(24);

    // Shapes follow through the head split: [batch, sequence, 3, 24] after pruning.
    inferShapes(out);
    const split = out.graph.nodes.find((n) => n.name === '/blocks.0/Reshape')!;
    expect(split.outputs[0]!.shape?.slice(2)).toEqual([3, 24]);

    // MACs at sequence 64, counted by hand: per block Q/K/V/O T·96·(3·24) each, scores and context 2·3·T·T·24, MLP
    // 2·T·96·288; the head T·96·256.
    const T = 64;
    const block = 4 * T * 96 * 72 + 2 * 3 * T * T * 24 + 2 * T * 96 * 288;
    const before = modelStats(model, { inputShapes: { input_ids: [1, T] } });
    const after = modelStats(out, { inputShapes: { input_ids: [1, T] } });
    expect(after.macs).toBe(2 * block + T * 96 * 256);
    expect(after.macs).toBeLessThan(before.macs);
    expect(after.params).toBeLessThan(before.params);

    // Removing a head or a neuron is zeroing its rows in the output / down projection: the original with those rows
    // zeroed computes what the pruned model computes (two batch sizes and sequence lengths: the Reshapes stay dynamic).
    const ref = model.clone();
    for (const b of [0, 1]) {
      const g = heads[b]!;
      zeroRows(ref, `/blocks.${b}/o/MatMul`, g.removedChannels[`/blocks.${b}/q/MatMul`]!);
      zeroRows(ref, `/blocks.${b}/down/MatMul`, mlp[b]!.removedChannels[`/blocks.${b}/up/MatMul`]!);
    }
    for (const [b, t] of [[2, 64], [1, 17]] as const) {
      const x = ids(b, t, t);
      const [got, want] = [await logits(out, x), await logits(ref, x)];
      expect(got.length).toBe(b * t * 256);
      let err = 0;
      for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
      expect(err).toBeLessThan(1e-4);
    }
  }, 120_000);
});
