import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadOnnx, writeOnnx } from '@mc/io-onnx';
import { inferShapes, type Model, type Tensor } from '@mc/ir';
import { randomFeeds } from '@mc/ir/testing';
import { runModel } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import type { MagnitudeOptions } from '../src/index.js';
import { mlp, smallConv } from './models.js';
import { pruneStored } from './stored.js';
import { SHARED_DIR, skipNote } from '../../../test-support/shared.js';
import { runWeb as runWebAll } from '../../quantize/test/helpers.js';

const shared = SHARED_DIR;
const cntk = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
// Debian's python3-onnx (1.12) is the reference checker; tests skip without it.
const hasOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;

/** onnx.checker.check_model on the written file: undefined when valid, else the checker's message. */
function check(model: Model): string | undefined {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'mc-prune-check-')), 'm.onnx');
  writeFileSync(file, writeOnnx(model));
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]))', file], {
    encoding: 'utf8',
  });
  return r.status === 0 ? undefined : r.stderr.trim().split('\n').at(-1);
}

/** The first output of `model` in onnxruntime-web. */
async function runWeb(model: Model, feeds: Record<string, Tensor>): Promise<Float32Array> {
  return Object.values(await runWebAll(model, feeds))[0]!;
}

// Debian's onnx 1.12 checks IR ≤ 8; the built models (opset 17) are written as IR 8, which opset 17 allows.
// Their outputs get their types from shape inference (the checker wants a type on every graph output).
const ir8 = (m: Model): Model => {
  inferShapes(m);
  return Object.assign(m, { irVersion: 8 });
};

const FORMS: readonly Partial<MagnitudeOptions>[] = [{}, { storage: 'sparse' }, { storage: 'packed' }, { storage: 'packed', codebook: 4 }];

const SKIP_1 = skipNote(!hasOnnx && 'Debian python3-onnx is not installed');
describe.skipIf(!hasOnnx)(`pruned files pass onnx.checker (Debian python3-onnx) and load in onnxruntime-node and -web${SKIP_1}`, () => {
  const cases: [string, () => Promise<Model>][] = [
    ['LeNet-300-100-shaped MLP', async () => ir8(mlp())],
    ['small CNN', async () => ir8(smallConv())],
  ];
  if (existsSync(cntk)) cases.push(['MNIST CNN (mnist-cntk-opset8.onnx, IR 3)', () => loadOnnx(cntk)]);
  it.each(cases)(
    '%s at sparsity 0.9, every storage form',
    async (_name, make) => {
      const model = await make();
      const feeds = randomFeeds(model, 7);
      const ref = await runModel((await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, storage: 'dense' })).model, feeds);
      const want = Object.values(ref)[0]!.data as Float32Array;
      for (const form of FORMS) {
        const { model: out, report } = await pruneStored(model, { mode: 'magnitude', sparsity: 0.9, ...form });
        expect(report.weights.length).toBeGreaterThan(0);
        expect(check(out), JSON.stringify(form)).toBeUndefined();
        for (const w of report.weights) if (w.storage === 'sparse') expect(w.indexType).toBe('int64');
        const node = Object.values(await runModel(out, feeds))[0]!.data as Float32Array;
        const web = await runWeb(out, feeds);
        const tol = form.codebook === undefined ? 1e-4 : Infinity;
        for (let i = 0; i < want.length; i++) {
          expect(Math.abs(node[i]! - web[i]!)).toBeLessThan(1e-4);
          expect(Math.abs(node[i]! - want[i]!)).toBeLessThan(tol * Math.max(1, Math.abs(want[i]!)));
        }
      }
    },
    120_000,
  );

  it("sparseIndices: 'smallest' (int16/int32, opt-in) is what the checker rejects: 'indices must have INT64 type'", async () => {
    const { model: out, report } = await pruneStored(ir8(mlp()), {
      mode: 'magnitude',
      sparsity: 0.9,
      storage: 'sparse',
      sparseIndices: 'smallest',
    });
    expect(report.weights.some((w) => w.indexType === 'int16')).toBe(true);
    expect(check(out)).toMatch(/INT64/);
  });
});
