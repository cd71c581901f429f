import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOnnx } from '@mc/io-onnx';
import { inferShapes, Tensor } from '@mc/ir';
import { prune } from '@mc/prune';
import { createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { mc, repoRoot, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const PY = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fixtures/tiny_gpt.py', import.meta.url));
const SEQS = [1, 7, 128];

/**
 * The tiny GPT exported by torch.onnx (dynamic batch and sequence), cached by the script's hash outside the repo, and
 * torch's own MAC count per sequence length; or why it is missing.
 */
function tinyGpt(): { file: string; torchMacs: Record<string, number> } | { why: string } {
  const hash = createHash('sha256').update(readFileSync(script)).update(SEQS.join(',')).digest('hex').slice(0, 12);
  const dir = path.join(os.homedir(), '.cache/mc/gpt', hash);
  const file = path.join(dir, 'tiny_gpt.onnx');
  const macs = path.join(dir, 'tiny_gpt_macs.json');
  if (!existsSync(file) || !existsSync(macs)) {
    if (!existsSync(PY)) return { why: `${PY} not found` };
    try {
      execFileSync(PY, ['-c', 'import torch'], { stdio: 'pipe' });
    } catch {
      return { why: 'Debian python3-torch is not installed (apt-get install python3-torch)' };
    }
    mkdirSync(dir, { recursive: true });
    try {
      execFileSync(PY, [script, dir, ...SEQS.map(String)], { stdio: 'pipe', timeout: 120_000 });
    } catch (e) {
      return { why: `torch.onnx export of the tiny GPT failed: ${String((e as Error).message).split('\n')[0]}` };
    }
  }
  return { file, torchMacs: JSON.parse(readFileSync(macs, 'utf8')) as Record<string, number> };
}

// The architecture in tiny_gpt.py: L layers of width D, MLP 4·D, vocabulary V. Per token: q,k,v and output projections
// (4·D²), the MLP (8·D²), and the head (D·V); per sequence: q·kᵀ and att·v, each T²·D over all heads.
const [L, D, V] = [2, 64, 256];
const formula = (batch: number, t: number): number => batch * (t * (L * 12 * D * D + D * V) + L * 2 * t * t * D);

const gpt = tinyGpt();
const why = 'why' in gpt ? gpt.why : undefined;
const json = async (...argv: string[]) => {
  const r = await mc('inspect', '--json', ...argv);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
};

describe.skipIf(why !== undefined)(
  `tiny GPT from torch.onnx with dynamic batch and sequence${why === undefined ? '' : ` (skipped: ${why})`}`,
  () => {
    const { file, torchMacs } = gpt as { file: string; torchMacs: Record<string, number> };

    it('every value gets a shape of known rank; attention keeps batch and sequence symbolic', () => {
      const m = readOnnx(readFileSync(file));
      inferShapes(m);
      const values = m.graph.nodes.flatMap((n) => n.outputs);
      expect(values.filter((v) => v.shape === undefined || v.shape.includes(null)).map((v) => v.name)).toEqual([]);
      const softmax = m.graph.nodes.find((n) => n.opType === 'Softmax')!;
      expect(softmax.outputs[0]!.shape).toEqual(['batch', 4, 'sequence', 'sequence']);
      expect(m.graph.outputs[0]!.shape).toEqual(['batch', 'sequence', V]);
    });

    for (const t of SEQS) {
      it(`--input-shape input_ids=1x${t}: MACs = torch's count = the formula (${formula(1, t)})`, async () => {
        const j = await json('--input-shape', `input_ids=1x${t}`, file);
        expect(j.macs).toBe(torchMacs[String(t)]);
        expect(j.macs).toBe(formula(1, t));
        expect(j.assumed).toEqual([]);
        expect(j.uncounted).toEqual([]);
      });
    }

    it('--dim batch=3,sequence=7 gives 3× the batch-1 count; no sizes assume batch 1 and sequence 128', async () => {
      expect((await json('--dim', 'batch=3,sequence=7', file)).macs).toBe(formula(3, 7));
      const d = await json(file);
      expect(d.macs).toBe(formula(1, 128));
      expect(d.assumed.map((a: { symbol: string; size: number }) => `${a.symbol}=${a.size}`)).toEqual(['batch=1', 'sequence=128']);
      const text = await mc('inspect', file);
      expect(text.out).toMatch(
        /sizes {2}batch=1 \(assumed, batch\), sequence=128 \(assumed, sequence\); set them with --input-shape or --dim/,
      );
      expect(text.out).toMatch(new RegExp(`${formula(1, 128).toLocaleString('en-US')} MACs`));
    });

    it('channel pruning sees every shape: no group is left alone for an unknown rank; the MLP groups shrink and the model runs', async () => {
      const m = readOnnx(readFileSync(file));
      const { model: out, report } = await prune(m, { mode: 'channels', ratio: 0.5 });
      const reasons = report.groups.flatMap((g) => g.reasons);
      expect(reasons.filter((r) => /rank|unknown/.test(r))).toEqual([]);
      // With weights normalised (Split sizes become initializers), the qkv groups now reach the head-split Reshape.
      expect(reasons.filter((r) => /shape/.test(r) && !/keeps its shape|computed target shape/.test(r))).toEqual([]);
      expect(report.groups.filter((g) => g.fixed === 0).map((g) => g.roots)).toEqual([['/blocks.0/fc/MatMul'], ['/blocks.1/fc/MatMul']]);
      const ids = new Tensor(
        'int64',
        [2, 9],
        BigInt64Array.from({ length: 18 }, (_, i) => BigInt((i * 37) % V)),
      );
      const s = await createSession(out);
      const y = (await s.run({ input_ids: ids })).logits!;
      await s.release();
      expect(y.dims).toEqual([2, 9, V]);
      expect(report.after.macs).toBe(formula(1, 128) - L * 128 * 2 * D * 2 * D); // half of each 4·D MLP hidden layer
    });

    it('bad sizes are usage errors (exit 2) that say the fix', async () => {
      const r = await mc('inspect', '--input-shape', 'input_ids=1x2x3', file);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/rank 2/);
      expect((await mc('inspect', '--input-shape', 'ids=1x2', file)).err).toMatch(/no such input.*'input_ids'/);
      expect((await mc('inspect', '--input-shape', 'input_ids', file)).code).toBe(2);
    });
  },
);

const cnn = path.join(shared, 'models/onnx/image_classifier32.onnx');
describe.skipIf(!existsSync(cnn))(
  `CNN with a dynamic batch (image_classifier32.onnx, batch_size)${skipNote(sharedAbsent('models/onnx/image_classifier32.onnx'))}`,
  () => {
    it('MACs scale with --input-shape; no shape assumes batch_size=1; nothing uncounted', async () => {
      const one = await json(cnn);
      expect(one.assumed).toEqual([{ input: 'modelInput', axis: 0, symbol: 'batch_size', size: 1, kind: 'batch' }]);
      expect(one.uncounted).toEqual([]);
      expect(one.macs).toBeGreaterThan(500_000);
      const four = await json('--input-shape', 'modelInput=4x3x32x32', cnn);
      expect(four.macs).toBe(4 * one.macs);
      expect(four.dims).toEqual({ batch_size: 4 });
      expect((await mc('inspect', '--input-shape', 'modelInput=4x3x64x64', cnn)).err).toMatch(/size 32 on axis 2/);
    });
  },
);

const mlp = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
describe.skipIf(!existsSync(mlp))('MACs after prune --sparsity 0.9', () => {
  for (const storage of ['sparse', 'packed']) {
    it(`${storage} storage: dense MACs unchanged (onnxruntime runs them), effective MACs 10 %`, async () => {
      const out = path.join(tempDir(), 'p.onnx');
      expect((await mc('prune', '--sparsity', '0.9', '--storage', storage, mlp, out)).code).toBe(0);
      const [a, b] = [await json(mlp), await json(out)];
      expect(b.macs).toBe(a.macs);
      expect(b.executedMacs).toBe('macs');
      expect(b.effectiveMacs / b.macs).toBeCloseTo(0.1, 3);
      expect((await mc('inspect', out)).out).toMatch(/MACs: 266,200 dense \(what onnxruntime executes.*\), 26,6\d\d effective/);
    });
  }
});
