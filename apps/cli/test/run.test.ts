import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const mnist = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const mnistDir = path.join(shared, 'data/mnist');
const have = existsSync(mnist) && existsSync(mnistDir);

describe.skipIf(!have)(`mc run <recipe>${skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'))}`, () => {
  it('runs lowrank → quantize with verification and prints a before/after table', async () => {
    const dir = tempDir();
    const recipe = path.join(dir, 'r.yaml');
    writeFileSync(recipe, 'steps:\n  - lowrank: {error: 0.1}\n  - quantize: {mode: int8-static, calibrationSamples: 64}\n');
    const out = path.join(dir, 'out.onnx');
    const r = await mc(
      'run',
      recipe,
      mnist,
      out,
      '--dataset',
      'mnist',
      '--data-dir',
      mnistDir,
      '--scale',
      '1',
      '--limit',
      '256',
      '--report',
      path.join(dir, 'r.html'),
    );
    // --error 0.1 saves nothing on this model: said on stderr, exit 0.
    expect(r.err).toMatch(/^mc: warning: step 1 \(lowrank\): nothing changed: no layer was factorised: .*\n$/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/lowrank/);
    expect(r.out).toMatch(/compression rate/);
    expect(existsSync(out)).toBe(true);
    expect(readFileSync(path.join(dir, 'r.html'), 'utf8')).toMatch(/Per step: weight bytes after the step.*<svg/s);
  });

  it('an unknown step is a usage error and writes nothing', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'r.yaml'), 'steps:\n  - shrink: {}\n');
    const r = await mc('run', path.join(dir, 'r.yaml'), mnist, path.join(dir, 'out.onnx'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown step 'shrink'/);
    expect(readdirSync(dir)).toEqual(['r.yaml']);
  });

  it('a step failing verification exits 5, names the step and writes nothing', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'r.json'), JSON.stringify({ steps: [{ lowrank: { rank: 1, check: { minTop1: 0.99 } } }] }));
    const r = await mc('run', path.join(dir, 'r.json'), mnist, path.join(dir, 'out.onnx'));
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/step 1 \(lowrank\) failed verification/);
    expect(readdirSync(dir)).toEqual(['r.json']);
  });
});
