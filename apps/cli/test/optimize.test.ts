import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const model = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const data = path.join(shared, 'data/mnist');
const have = existsSync(model) && existsSync(data);
const common = ['--dataset', 'mnist', '--data-dir', data, '--scale', '1', '--search-samples', '500', '--limit', '500'];

describe.skipIf(!have)(`mc optimize${skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'))}`, () => {
  it('finds a smaller model within the accuracy bound (search data and, before writing, the test split), writes it and an HTML report with plots', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'small.onnx');
    const report = path.join(dir, 'report.html');
    // At 1 point the candidate chosen on 500 search images loses 1.8 on the test split and is refused (exit 5).
    const refused = await mc('optimize', ...common, '--max-accuracy-drop', '1', model, out);
    expect(refused.code).toBe(5);
    expect(refused.err).toMatch(
      /verification failed \(optimize, mnist-test data\): top-1 accuracy on mnist-test fell \d\.\d\d points .* more than --max-accuracy-drop 1/,
    );
    expect(existsSync(out)).toBe(false);
    const r = await mc('optimize', ...common, '--max-accuracy-drop', '2', '--json', '--report', report, model, out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.best.drop).toBeLessThanOrEqual(2);
    expect(j.test.drop).toBeLessThanOrEqual(2);
    expect(j.best.measurement.bytes).toBeLessThan(j.baseline.measurement.bytes / 2);
    expect(j.pareto.length).toBeGreaterThan(0);
    expect(readFileSync(out).length).toBe(j.best.measurement.bytes);
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/<svg[^>]*>.*<circle/s);
    expect(html).not.toMatch(/<script/);
  });

  it('a target nothing meets (no time to try any candidate) reports it, exits 5 and writes nothing', async () => {
    const dir = tempDir();
    const r = await mc('optimize', ...common, '--max-accuracy-drop', '0.1', '--time-budget', '0', model, path.join(dir, 'o.onnx'));
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/no candidate lost at most 0.1 points/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a negative or fractional --recover-samples is refused before any work', async () => {
    const dir = tempDir();
    const r = await mc('optimize', ...common, '--objective', 'latency', '--recover-samples', '-5', model, path.join(dir, 'o.onnx'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--recover-samples/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('needs a dataset', async () => {
    const r = await mc('optimize', model, path.join(tempDir(), 'o.onnx'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/needs --dataset/);
  });
});
