/**
 * torchvision ResNet18 / MobileNetV2 as torch.onnx exports them (default BatchNorm statistics, so identical
 * initializers are shared through Identity nodes), BatchNorm kept and folded: channel pruning at 50 % normalises the
 * weights first, unties or prunes the shared ones identically, and removes most of the parameters.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOnnx, writeOnnx } from '@mc/io-onnx';
import { randomFeeds } from '@mc/ir/testing';
import { createSession } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { TORCHVISION, torchvisionDir } from '../../verify/test/third-party.js';
import { prune } from '../src/index.js';

const { dir, why } = torchvisionDir();

describe.skipIf(why !== undefined)(
  `torchvision exports with Identity-shared weights${why === undefined ? '' : ` (skipped: ${why})`}`,
  () => {
    it.each(TORCHVISION.map((n) => [n]))(
      '%s: --channels 0.5 removes >= 40 % of the params, only the classifier output is fixed, runs in onnxruntime-node',
      async (name) => {
        const model = readOnnx(readFileSync(join(dir, `${name}.onnx`)));
        const { model: out, report } = await prune(model, { mode: 'channels', ratio: 0.5 });
        expect(report.nothingToPrune).toBeUndefined();
        expect(report.after.params).toBeLessThanOrEqual(report.before.params * 0.6);
        const reasons = new Set(report.groups.flatMap((g) => g.reasons));
        expect([...reasons]).toEqual(["graph output 'y' keeps its shape"]);
        // The input model is untouched: its Identity nodes are still there.
        expect(model.graph.nodes.some((n) => n.opType === 'Identity')).toBe(true);
        expect(out.graph.nodes.some((n) => n.opType === 'Identity')).toBe(false);
        const feeds = randomFeeds(model, 1);
        const [a, b] = await Promise.all([createSession(model), createSession(writeOnnx(out))]);
        const [ya, yb] = [(await a.run(feeds)).y!, (await b.run(feeds)).y!];
        await Promise.all([a.release(), b.release()]);
        expect(yb.dims).toEqual(ya.dims);
        expect((yb.data as Float32Array).every(Number.isFinite)).toBe(true);
      },
    );
  },
);
