import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

// The Keras "simple MNIST convnet" (2 Conv + Dense, 34,826 parameters), converted to ONNX at test time.
const keras = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
const mnistDir = path.join(shared, 'data/mnist');
const have = existsSync(keras) && existsSync(mnistDir);
const data = ['--dataset', 'mnist', '--data-dir', mnistDir];

async function top1(file: string): Promise<number> {
  const r = await mc('eval', ...data, '--limit', '2000', file);
  expect(r.code).toBe(0);
  return Number(/top-1 ([\d.]+)%/.exec(r.out)![1]);
}

const SKIP_1 = skipNote(sharedAbsent('models/keras/moonflower/mnist_convnet.h5', 'data/mnist'));
describe.skipIf(!have)(`mc run composes prune with low rank, fine-tuning and quantize (Keras MNIST convnet)${SKIP_1}`, () => {
  it.each([
    [
      'prune → lowrank → finetune → quantize',
      [
        '  - prune: {mode: magnitude, sparsity: 0.5, scope: global}',
        '  - lowrank: {error: 0.2}',
        '  - finetune: {epochs: 1, limit: 8192}',
        '  - quantize: {mode: int8-weights}',
      ],
      ['compress', '--error', '0.2'],
    ],
    [
      'lowrank → prune → quantize',
      ['  - lowrank: {error: 0.15}', '  - prune: {mode: magnitude, sparsity: 0.5, scope: global}', '  - quantize: {mode: int8-weights}'],
      ['compress', '--error', '0.15'],
    ],
  ])(
    '%s: every step changes the model, no layer passed through, the file is smaller than each technique alone, top-1 within 1 pt (2,000 test images)',
    async (_name, steps, lowrank) => {
      const dir = tempDir();
      const input = path.join(dir, 'convnet.onnx');
      expect((await mc('convert', keras, input)).code).toBe(0);
      writeFileSync(path.join(dir, 'r.yaml'), `steps:\n${steps.join('\n')}\n`);
      const out = path.join(dir, 'out.onnx');
      const r = await mc('run', path.join(dir, 'r.yaml'), input, out, ...data, '--json');
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out) as {
        steps: {
          step: string;
          report: { before: { params: number }; after: { params: number }; passedThrough?: { reason: string }[] };
          check: { maxAbs: number };
        }[];
      };
      for (const s of j.steps) {
        // Every step changed the outputs (so the model), and no technique found a pruned weight hidden from it.
        expect(s.check.maxAbs, s.step).toBeGreaterThan(0);
        expect(Number.isFinite(s.report.before.params) && Number.isFinite(s.report.after.params), s.step).toBe(true);
        for (const p of s.report.passedThrough ?? []) expect(p.reason).not.toMatch(/not a constant initializer/);
      }
      const alone: Record<string, string[]> = {
        prune: ['prune', '--sparsity', '0.5', '--global'],
        lowrank,
        quantize: ['quantize', '--mode', 'int8-weights'],
      };
      for (const [name, args] of Object.entries(alone)) {
        const f = path.join(dir, `${name}.onnx`);
        expect((await mc(...args, input, f)).code).toBe(0);
        expect(statSync(out).size, `smaller than ${name} alone`).toBeLessThan(statSync(f).size);
      }
      expect(await top1(out)).toBeGreaterThan((await top1(input)) - 1);
    },
    600_000,
  );
});
