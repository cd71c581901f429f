import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readOnnx } from '@mc/io-onnx';
import { inferShapes, type Model, weightOf } from '@mc/ir';
import { randomFeeds } from '@mc/ir/testing';
import { createSession } from '@mc/verify';
import { afterAll, describe, expect, it } from 'vitest';
import { prune } from '../src/index.js';

const script = fileURLToPath(new URL('./fixtures/torchvision_export.py', import.meta.url));
const python = '/usr/bin/python3';

function exportModels(): { dir: string; why?: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mc-prune-tv-'));
  if (!existsSync(python)) return { dir, why: `${python} not found` };
  try {
    execFileSync(python, [script, dir], { stdio: 'pipe', timeout: 60_000 });
    return { dir };
  } catch (e) {
    return { dir, why: `torchvision export failed (apt-get install python3-torchvision): ${String((e as Error).message).split('\n')[0]}` };
  }
}

const { dir, why } = exportModels();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every Conv's weight agrees with its input's channel count and every BN with its conv (shapes consistent). */
function checkConsistent(model: Model): void {
  inferShapes(model);
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Conv') continue;
    const w = weightOf(n)!.tensor!;
    const c = n.inputs[0]!.shape?.[1];
    expect(typeof c === 'number' ? c : -1).toBe(w.dims[1]! * n.attrInt('group', 1)!);
  }
}

describe.skipIf(why !== undefined)(
  `torchvision exports at 50% channels load in onnxruntime-node${why === undefined ? '' : ` (skipped: ${why})`}`,
  () => {
    for (const [name, minRemoved] of [
      ['resnet18', 0.3],
      ['mobilenet_v2', 0.3],
    ] as const) {
      it(`${name}: 50% of channels removed (L1 / BN |γ|, per group) with BN folded, shapes consistent, runs with the same output shape`, async () => {
        const model = readOnnx(readFileSync(join(dir, `${name}.onnx`)));
        const { model: out, report } = await prune(model, {
          mode: 'channels',
          ratio: 0.5,
          importance: name === 'resnet18' ? 'l1' : 'bn',
          foldBatchNorm: true,
        });
        expect(report.nothingToPrune).toBeUndefined();
        expect(report.achieved).toBeGreaterThan(minRemoved);
        expect(report.after.params).toBeLessThan(report.before.params * 0.45);
        expect(report.after.macs).toBeLessThan(report.before.macs * 0.5);
        // Residual stages are single groups; the classifier group stays (graph output).
        const fixedGroups = report.groups.filter((g) => g.fixed === g.channels);
        expect(fixedGroups.map((g) => g.roots)).toEqual([[model.graph.nodes.find((n) => n.opType === 'Gemm')!.name]]);
        checkConsistent(out);
        expect(out.graph.nodes.filter((n) => n.opType === 'BatchNormalization')).toEqual([]);
        const feeds = randomFeeds(model, 1);
        const [a, b] = await Promise.all([createSession(model), createSession(out)]);
        const [ya, yb] = [(await a.run(feeds)).y!, (await b.run(feeds)).y!];
        await Promise.all([a.release(), b.release()]);
        expect(yb.dims).toEqual(ya.dims);
        expect((yb.data as Float32Array).every(Number.isFinite)).toBe(true);
      });
    }
  },
);
