import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, repoRoot, shared, tempDir } from './helpers.js';

const mnist = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const data = path.join(shared, 'data/mnist');
const h5 = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
/** ' (skipped: … is missing)' for a test title when any of the files is absent, else ''. */
const missing = (...files: string[]) => {
  const gone = files.filter((f) => !existsSync(f));
  return gone.length === 0 ? '' : ` (skipped: ${gone.join(', ')} missing)`;
};
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe.skipIf(!existsSync(mnist))(`mc compress${missing(mnist)}`, () => {
  it('--error 0.3 --scale 1: factorises, prints the layer table and totals, verified on synthetic inputs in [0, 255] before writing', async () => {
    const out = path.join(tempDir(), 'small.onnx');
    const before = sha(mnist);
    const r = await mc('compress', '--error', '0.3', '--scale', '1', mnist, out);
    expect(r.code).toBe(0);
    expect(sha(mnist)).toBe(before);
    expect(r.out).toMatch(/tucker2|Conv/);
    expect(r.out).toMatch(/parameters/);
    expect(r.out).toMatch(/verify \S+ \(synthetic inputs\): cosine 0\.\d+/);
    expect(r.out).toMatch(/verified \(lowrank: cosine >= 0\.5\)/);
    // A floor on synthetic inputs catches a broken graph, not lost accuracy; the output says so.
    expect(r.out).toMatch(/note: lowrank changes what the model computes; .* accuracy is unmeasured: pass --dataset/);
    const j = JSON.parse((await mc('inspect', '--json', out)).out);
    expect(j.params).toBeLessThan(5998);
  });

  it('--json report has per-layer ranks and totals (--rank 4 fails the check, so --no-verify; the JSON says so)', async () => {
    const out = path.join(tempDir(), 'small.onnx');
    const r = await mc('compress', '--rank', '4', '--json', '--no-verify', mnist, out);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.verify).toEqual({ skipped: true });
    expect(j.policy).toEqual({ rank: 4 });
    expect(j.nodes.some((n: { replaced: boolean; ranks: number[] }) => n.replaced && n.ranks.includes(4))).toBe(true);
    expect(j.after.params).toBeLessThan(j.before.params);
  });

  it.each([
    ['--error', '-1'],
    ['--error', 'NaN'],
    ['--rank', '100000'],
  ])('%s %s → usage/option error, no output written', async (flag, v) => {
    const dir = tempDir();
    const out = path.join(dir, 'x.onnx');
    const r = await mc('compress', flag, v, mnist, out);
    expect(r.code).toBe(2);
    expect(existsSync(out)).toBe(false);
    expect(r.err.length).toBeGreaterThan(0);
  });

  it.skipIf(!existsSync(data))(
    `--data-aware --dataset: data-aware dense factors, the report gives the output error${missing(data)}`,
    async () => {
      const out = path.join(tempDir(), 'cal.onnx');
      const r = await mc(
        'compress',
        '--error',
        '0.2',
        '--data-aware',
        '--dataset',
        'mnist',
        '--data-dir',
        data,
        '--scale',
        '1',
        '--calibration-size',
        '64',
        '--json',
        mnist,
        out,
      );
      expect(r.code).toBe(0);
      const j = JSON.parse(r.out);
      const dense = j.nodes.find((n: { opType: string }) => n.opType === 'MatMul');
      expect(dense.decomposition).toBe('calibrated');
      expect(dense.outputError).toBeLessThanOrEqual(0.2);
    },
  );

  it.skipIf(!existsSync(h5))(`Keras .h5 in and out (moonflower)${missing(h5)}`, async () => {
    const out = path.join(tempDir(), 'small.h5');
    const r = await mc('compress', '--error', '0.3', h5, out);
    expect(r.code).toBe(0);
    expect(JSON.parse((await mc('inspect', '--json', out)).out).params).toBeLessThan(34_826);
  });

  it.skipIf(!existsSync(h5) || !existsSync(data))(
    `--finetune --epochs 1 trains the factorised model on the dataset before writing${missing(h5, data)}`,
    async () => {
      const out = path.join(tempDir(), 'ft.onnx');
      const r = await mc(
        'compress',
        '--error',
        '0.3',
        '--finetune',
        '--epochs',
        '1',
        '--dataset',
        'mnist',
        '--data-dir',
        data,
        '--limit',
        '256',
        '--max-accuracy-drop',
        '50',
        '--json',
        h5,
        out,
      );
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).finetune.epochs).toBe(1);
      expect(JSON.parse(r.out).verify.accuracy).toMatchObject({ maxDrop: 50, samples: 1000, dataset: 'mnist-test' });
      expect(existsSync(out)).toBe(true);
      expect((await mc('compress', '--finetune', h5, path.join(tempDir(), 'x.onnx'))).code).toBe(2);
    },
  );

  it('two policies at once is a usage error', async () => {
    const r = await mc('compress', '--error', '0.1', '--rank', '3', mnist, path.join(tempDir(), 'x.onnx'));
    expect(r.code).toBe(2);
  });
});

describe('mc compress --report', () => {
  it('writes a self-contained HTML page with the per-layer plot', async () => {
    const dir = tempDir();
    const report = path.join(dir, 'r.html');
    const r = await mc(
      'compress',
      '--error',
      '0.5',
      '--report',
      report,
      path.join(repoRoot, 'examples/models/mnist-mlp.onnx'),
      path.join(dir, 'o.onnx'),
    );
    expect(r.code).toBe(0);
    const html = readFileSync(report, 'utf8');
    expect(html).toMatch(/Per layer: parameters kept \(%\)/);
    expect(html).toMatch(/<svg[^>]*>.*<rect/s);
    expect(readdirSync(dir).sort()).toEqual(['o.onnx', 'r.html']);
  });
});
