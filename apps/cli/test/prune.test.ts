import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const mnist = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');

describe.skipIf(!existsSync(mnist))(`mc prune${skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'))}`, () => {
  it('--sparsity 0.9 --global --scale 1: table of weights, the file shrinks, verified on synthetic inputs before writing', async () => {
    const out = path.join(tempDir(), 'sparse.onnx');
    const before = readFileSync(mnist);
    const r = await mc('prune', '--sparsity', '0.9', '--global', '--scale', '1', mnist, out);
    expect(r.code).toBe(0);
    expect(readFileSync(mnist).equals(before)).toBe(true);
    expect(r.out).toMatch(/weights zeroed: 90\.0%/);
    expect(r.out).toMatch(/verify \S+ \(synthetic inputs\): cosine/);
    // The MatMul weight is computed (Reshape of a constant) and stays; the big conv's sparse indices are int64 (the
    // only type onnx.checker accepts).
    expect(r.out).toMatch(/Convolution110 .* sparse \(int64\)/);
    expect(r.out).not.toMatch(/int16|int32/);
    // Opset 8 has no packed form (CumSum needs 11): int64 indices cost 8 bytes per nonzero, the price of valid ONNX.
    expect(statSync(out).size).toBeLessThan(before.length * 0.65);
  });

  it('--channels 0.5 --json: every group with members, removals and reasons; a 7.5-point loss needs --max-accuracy-drop', async () => {
    const out = path.join(tempDir(), 'thin.onnx');
    const data = ['--dataset', 'mnist', '--data-dir', path.join(shared, 'data/mnist'), '--scale', '1'];
    const refused = await mc('prune', '--channels', '0.5', ...data, mnist, out);
    expect(refused.code).toBe(5);
    expect(refused.err).toMatch(/top-1 accuracy on mnist-test fell \d+\.\d\d points .* more than --max-accuracy-drop 2/);
    expect(existsSync(out)).toBe(false);
    const r = await mc('prune', '--channels', '0.5', '--json', ...data, '--max-accuracy-drop', '10', mnist, out);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.verify.accuracy.drop).toBeLessThanOrEqual(10);
    expect(j.mode).toBe('channels');
    expect(j.groups.length).toBe(2);
    // The second conv feeds a MatMul whose weight is computed: that group is left alone, with the reason.
    expect(j.groups[1].reasons).toEqual(["MatMul 'Times212' has no constant weight"]);
    expect(j.groups[0].removed).toBe(4);
    expect(j.after.params).toBeLessThan(j.before.params);
  });

  it.each([
    ['--sparsity', '1'],
    ['--sparsity', '-0.5'],
    ['--channels', '1.2'],
    ['--nm', '2-4'],
  ])('%s %s → usage/option error, no output written', async (flag, v) => {
    const out = path.join(tempDir(), 'x.onnx');
    const r = await mc('prune', flag, v, mnist, out);
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });
});
