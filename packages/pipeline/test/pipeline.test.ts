import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadMnist } from '@mc/datasets';
import { loadOnnx } from '@mc/io-onnx';
import { McError } from '@mc/ir';
import { countOps } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { optimize, parseRecipe, pipeline } from '../src/index.js';
import { SHARED_DIR, sharedAbsent, skipNote } from '../../../test-support/shared.js';

const shared = SHARED_DIR;
const mnistModel = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const mnistDir = path.join(shared, 'data/mnist');
const have = existsSync(mnistModel) && existsSync(mnistDir);

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return McError.is(e) ? `${e.code}: ${e.message}` : String(e);
  }
  return undefined;
}

describe('recipes', () => {
  it('parses YAML and JSON, both step spellings', () => {
    const y = parseRecipe(
      'steps:\n  - lowrank: {error: 0.3}\n  - step: quantize\n    mode: int8-weights\n    check: {minTop1: 0.9}\n',
      'r.yaml',
    );
    expect(y.steps).toEqual([
      { step: 'lowrank', options: { error: 0.3 } },
      { step: 'quantize', options: { mode: 'int8-weights' }, check: { minTop1: 0.9 } },
    ]);
    const j = parseRecipe('[{"prune": {}}]'.replace('prune', 'lowrank'), 'r.json');
    expect(j.steps[0]!.step).toBe('lowrank');
  });

  it('an unknown step or option fails at once, naming it and what is allowed', () => {
    expect(code(() => parseRecipe('steps: [{shrink: {}}]', 'r.yaml'))).toMatch(
      /E_OPTION: recipe r.yaml: step 1: unknown step 'shrink'; steps are lowrank, quantize, prune/,
    );
    expect(code(() => parseRecipe('steps: [{lowrank: {eror: 0.1}}]', 'r.yaml'))).toMatch(
      /step 1 \(lowrank\): unknown option 'eror'; allowed: error, rank/,
    );
    expect(code(() => parseRecipe('steps: []', 'r.yaml'))).toMatch(/empty/);
    expect(code(() => parseRecipe('steps: [{quantize: {}}]', 'r.yaml'))).toMatch(/needs a mode/);
    expect(code(() => parseRecipe('steps: [{lowrank: {check: {minTop1: 2}}}]', 'r.yaml'))).toMatch(/\[0, 1\]/);
    expect(code(() => parseRecipe('{steps: [', 'r.json'))).toMatch(/E_FORMAT/);
  });
});

const SKIP_1 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!have)(`pipeline on the MNIST ONNX model${SKIP_1}`, () => {
  it('lowrank 0.1 → quantize int8-static, each step verified: top1 agreement ≥ 0.95', async () => {
    const model = await loadOnnx(mnistModel);
    const data = await loadMnist(mnistDir, { split: 'test', limit: 512 });
    const r = await pipeline(
      model,
      [
        { step: 'lowrank', options: { error: 0.1 }, check: { minTop1: 0.95 } },
        { step: 'quantize', options: { mode: 'int8-static', calibrationSamples: 128 }, check: { minTop1: 0.95 } },
      ],
      { data, feed: { scale: 1 } },
    );
    expect(r.steps.map((s) => s.step)).toEqual(['lowrank', 'quantize']);
    for (const s of r.steps) expect(s.check?.ok).toBe(true);
    expect(countOps(r.model).QuantizeLinear).toBeGreaterThan(0);
    expect(model.graph.nodes.some((n) => n.opType === 'QuantizeLinear')).toBe(false);
  });

  it('a step that fails verification stops the pipeline and names the step', async () => {
    const model = await loadOnnx(mnistModel);
    await expect(
      pipeline(model, [
        { step: 'lowrank', options: { error: 0.1 } },
        { step: 'lowrank', options: { rank: 1 }, check: { minTop1: 0.99 } },
      ]),
    ).rejects.toThrow(/step 2 \(lowrank\) failed verification/);
  });
});

const SKIP_2 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!have)(`optimize${SKIP_2}`, () => {
  it('a finishing step runs on the low-rank candidate once: MACs of "lowrank + kmeans" equal the low-rank model\'s', async () => {
    const model = await loadOnnx(mnistModel);
    const search = await loadMnist(mnistDir, { split: 'train', limit: 300 });
    const r = await optimize(model, { search, maxAccuracyDrop: 2, objective: 'size', feed: { scale: 1 } });
    const stacked = r.seen.filter((c) => c.label.includes(' + '));
    expect(stacked.length).toBeGreaterThan(0);
    for (const c of stacked) {
      const base = r.seen.find((s) => s.label === c.label.split(' + ')[0]);
      expect(c.steps.map((s) => s.step)).toEqual(['lowrank', 'quantize']);
      expect(c.measurement.macs).toBe(base!.measurement.macs);
    }
  });

  it('latency: channel-pruned candidates that overshoot are recovered by label-free distillation from the input, on the train samples', async () => {
    const model = await loadOnnx(mnistModel);
    const all = await loadMnist(mnistDir, { split: 'train', limit: 600 });
    const search = all.subset(Array.from({ length: 300 }, (_, i) => i));
    const train = all.subset(Array.from({ length: 300 }, (_, i) => 300 + i));
    const r = await optimize(model, { search, train, maxAccuracyDrop: 0, objective: 'latency', feed: { scale: 1 } });
    const pruned = r.seen.filter((c) => c.steps.at(-1)?.step === 'prune' && c.drop > 0);
    expect(pruned.length).toBeGreaterThan(0);
    for (const c of pruned) {
      const again = r.seen.find((s) => s.label === `${c.label} + distill`);
      expect(again, c.label).toBeDefined();
      expect(again!.steps.map((s) => s.step)).toEqual([...c.steps.map((s) => s.step), 'distill']);
      expect(again!.steps.at(-1)).toMatchObject({ options: { unlabeled: true } });
      // The recovered model is the same architecture: same MACs as the pruned one.
      expect(again!.measurement.macs).toBe(c.measurement.macs);
    }
    for (const c of r.seen.filter((s) => s.feasible)) expect(c.measurement.latencyMs).toBeLessThan(r.baseline.measurement.latencyMs);
  });
});
