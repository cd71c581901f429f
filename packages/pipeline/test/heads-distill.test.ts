import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { perplexity, readNpy } from '@mc/datasets';
import { distillLm } from '@mc/distill';
import { loadOnnx, writeOnnx } from '@mc/io-onnx';
import { type Model, Tensor, modelStats } from '@mc/ir';
import { prune } from '@mc/prune';
import { createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';

// The trained byte-level GPT that bench/transformer.bench.mjs caches (training takes ~20 minutes on 2 cores, so the
// test uses it only when the bench has made it): 25 % of the heads and MLP neurons removed, 2 epochs of distillation
// from the unpruned model on the 512 training windows, perplexity on the held-out windows.
const script = fileURLToPath(new URL('../../../bench/gpt/train_gpt.py', import.meta.url));
const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
const dir = process.env.MC_GPT_DIR ?? join(homedir(), '.cache', 'mc', 'gpt-bytes', hash);
const trained = existsSync(join(dir, 'gpt.onnx')) && existsSync(join(dir, 'calib', 'input_ids.npy'));

async function ppl(model: Model): Promise<number> {
  const valid = readNpy(readFileSync(join(dir, 'valid', 'input_ids.npy')));
  const s = await createSession(writeOnnx(model));
  try {
    const run = async (ids: BigInt64Array, b: number, t: number) =>
      (await s.run({ input_ids: new Tensor('int64', [b, t], ids) })).logits!.data as Float32Array;
    return (await perplexity(run, valid.data as BigInt64Array, valid.shape[0]!, valid.shape[1]!, { batchSize: 32 })).perplexity;
  } finally {
    await s.release();
  }
}

describe.skipIf(!trained)(
  `pruned GPT recovered by distillation${trained ? '' : ' (skipped: no trained GPT cached; run node bench/transformer-heads.bench.mjs)'}`,
  () => {
    it('25 % of heads and MLP neurons removed + 2 epochs of distillation: perplexity within 10 % of the original', async () => {
      const teacher = await loadOnnx(join(dir, 'gpt.onnx'));
      const { model: pruned, report } = await prune(teacher, { mode: 'channels', ratio: 0.25 });
      expect(report.groups.filter((g) => g.headSize !== undefined).map((g) => g.removed)).toEqual([1, 1]);
      const shapes = { inputShapes: { input_ids: [1, 64] } };
      expect(modelStats(pruned, shapes).macs).toBeLessThan(0.8 * modelStats(teacher, shapes).macs);
      const calib = readNpy(readFileSync(join(dir, 'calib', 'input_ids.npy')));
      const { model } = await distillLm(
        teacher,
        pruned,
        { data: calib.data as BigInt64Array, count: calib.shape[0]!, width: calib.shape[1]! },
        { epochs: 2 },
      );
      const [before, cut, after] = [await ppl(teacher), await ppl(pruned), await ppl(model)];
      expect(cut).toBeGreaterThan(before);
      expect(after).toBeLessThan(cut);
      expect(after).toBeLessThanOrEqual(1.1 * before);
    }, 300_000);
  },
);
