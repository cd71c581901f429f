import { join } from 'node:path';
import { loadOnnx } from '@mc/io-onnx';
import { type Model, ModelBuilder, Tensor, inferShapes, modelStats, slotOf, toNumbers, weightOf } from '@mc/ir';
import { randomTensor } from '@mc/ir/testing';
import { runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { prune } from '../src/index.js';
import { randomGpt } from '../../verify/test/third-party.js';
import { maxDiff, PY_ONNX, havePyOnnx, onnxChecker, runWeb } from '../../quantize/test/helpers.js';

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
  node.replaceInput(
    w.index,
    model.graph.addInitializer(model.graph.uniqueName(`${w.value.name}_zeroed`), new Tensor('float32', t.dims, data)),
  );
}

describe.skipIf(gpt.why !== undefined)(
  `attention heads and MLP neurons of a torch.onnx GPT${gpt.why === undefined ? '' : ` (skipped: ${gpt.why})`}`,
  () => {
    it('removes a quarter of the heads (Q/K/V/O and the head count of both Reshapes) and of the MLP neurons', async () => {
      const model = await loadOnnx(join(gpt.dir, 'gpt.onnx'));
      const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.25 });
      const heads = report.groups.filter((g) => g.headSize !== undefined);
      expect(heads.map((g) => [g.roots.length, g.channels, g.removed, g.headSize])).toEqual([
        [3, 4, 1, 24],
        [3, 4, 1, 24],
      ]);
      expect(heads[0]!.members.map((m) => m.node)).toContain('/blocks.0/o/MatMul');
      const mlp = report.groups.filter((g) => g.roots.length === 1 && g.roots[0]!.endsWith('/up/MatMul'));
      expect(mlp.map((g) => [g.channels, g.removed])).toEqual([
        [384, 96],
        [384, 96],
      ]);
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
      for (const [b, t] of [
        [2, 64],
        [1, 17],
      ] as const) {
        const x = ids(b, t, t);
        const [got, want] = [await logits(out, x), await logits(ref, x)];
        expect(got.length).toBe(b * t * 256);
        expect(maxDiff(got, want)).toBeLessThan(1e-4);
      }
    }, 120_000);

    it("the pruned model (heads and neurons, 25 % and 50 %) runs in onnxruntime-web with onnxruntime-node's logits", async () => {
      const model = await loadOnnx(join(gpt.dir, 'gpt.onnx'));
      const x = ids(2, 17, 3);
      for (const ratio of [0.25, 0.5]) {
        const { model: out } = await prune(model, { mode: 'channels', ratio });
        const node = await logits(out, x);
        const web = (await runWeb(out, { input_ids: x })).logits!;
        expect(maxDiff(web, node), `ratio ${ratio}`).toBeLessThan(1e-4);
      }
    }, 120_000);

    it.skipIf(!havePyOnnx)(
      `the pruned model (25 % and 50 %) passes onnx.checker${PY_ONNX}`,
      async () => {
        const model = await loadOnnx(join(gpt.dir, 'gpt.onnx'));
        for (const ratio of [0.25, 0.5]) {
          const { model: out } = await prune(model, { mode: 'channels', ratio });
          expect(onnxChecker(out), `ratio ${ratio}`).toBe('');
        }
      },
      120_000,
    );
  },
);

/** One attention block with constant Reshape targets: split [0, 0, 4, -1], merge [0, 0, -1], K transposed once. */
function constantTargets(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 'T', 16]);
  const w = (name: string, seed: number, dims = [16, 16]) => b.initializer(name, randomTensor('float32', dims, seed, 0.5));
  const i64 = (name: string, xs: number[]) => b.initializer(name, new Tensor('int64', [xs.length], BigInt64Array.from(xs.map(BigInt))));
  const split = i64('split', [0, 0, 4, -1]);
  const proj = (name: string, seed: number) =>
    b.node(
      'Reshape',
      [b.node('Add', [b.node('MatMul', [x, w(name, seed)], {}, { name: `${name}/MatMul` }), w(`${name}.b`, seed + 10, [16])]), split],
      {},
      { name: `${name}/Reshape` },
    );
  const q = b.node('Transpose', [proj('q', 1)], { perm: [0, 2, 1, 3] });
  const k = b.node('Transpose', [proj('k', 2)], { perm: [0, 2, 3, 1] });
  const v = b.node('Transpose', [proj('v', 3)], { perm: [0, 2, 1, 3] });
  const p = b.node(
    'Softmax',
    [b.node('Div', [b.node('MatMul', [q, k]), b.initializer('scale', new Tensor('float32', [], Float32Array.of(2)))])],
    { axis: -1 },
  );
  const y = b.node('Reshape', [b.node('Transpose', [b.node('MatMul', [p, v])], { perm: [0, 2, 1, 3] }), i64('merge', [0, 0, -1])]);
  b.output(b.node('Add', [x, b.node('MatMul', [y, w('o', 4)], {}, { name: 'o/MatMul' })]), 'y', { dtype: 'float32' });
  return b.build();
}

describe('attention heads with constant Reshape targets', () => {
  it('halves the heads, rewrites only the head count, and equals the original with those heads zeroed', async () => {
    const model = constantTargets();
    const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.5 });
    const g = report.groups.find((x) => x.headSize !== undefined)!;
    expect([g.channels, g.removed, g.headSize, g.roots]).toEqual([4, 2, 4, ['q/MatMul', 'k/MatMul', 'v/MatMul']]);
    const targets = out.graph.nodes.filter((n) => n.opType === 'Reshape').map((n) => toNumbers(slotOf(n, 'shape')!.constValue!));
    expect(targets).toEqual([
      [0, 0, 2, -1],
      [0, 0, 2, -1],
      [0, 0, 2, -1],
      [0, 0, -1],
    ]);
    // `heads` overrides the ratio for head groups only.
    const own = await prune(model, { mode: 'channels', ratio: 0, heads: 0.25 });
    expect(own.report.groups.find((x) => x.headSize !== undefined)!.removed).toBe(1);
    expect(own.report.groups.filter((x) => x.headSize === undefined).every((x) => x.removed === 0)).toBe(true);
    const global = await prune(model, { mode: 'channels', ratio: 0, heads: 0.75, scope: 'global' });
    expect(global.report.groups.find((x) => x.headSize !== undefined)!.removed).toBe(3);
    const ref = model.clone();
    zeroRows(ref, 'o/MatMul', g.removedChannels['q/MatMul']!);
    const x = randomTensor('float32', [2, 7, 16], 5);
    const [got, want] = [(await runModel(out, { x })).y!.data as Float32Array, (await runModel(ref, { x })).y!.data as Float32Array];
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!));
    expect(err).toBeLessThan(1e-4);
  });
});
