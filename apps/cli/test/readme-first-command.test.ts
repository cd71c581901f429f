import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, repoRoot, tempDir } from './helpers.js';

// The README's first command must work on a fresh clone and show real accuracy before and after on the MNIST images
// that ship in examples/data. This runs exactly the arguments the README gives (output redirected to a temp folder).
const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
const line = readme.split('\n').find((l) => l.includes('pnpm mc ')) ?? '';
const args = line
  .slice(line.indexOf('pnpm mc ') + 'pnpm mc '.length)
  .trim()
  .split(/\s+/);

describe("the README's first command", () => {
  it('is an mc command on bundled files only', () => {
    expect(args[0]).toBe('compress');
    for (const a of args.filter((x) => x.startsWith('examples/'))) expect(existsSync(path.join(repoRoot, a)), a).toBe(true);
  });

  it('exits 0 and prints top-1 before and after on the bundled test images, within the default budget', async () => {
    const out = path.join(tempDir(), path.basename(args[args.length - 1]!));
    const argv = [...args.slice(0, -1).map((a) => (a.startsWith('examples/') ? path.join(repoRoot, a) : a)), out];
    const r = await mc(...argv);
    expect(r.code, r.err).toBe(0);
    const m = /verify accuracy on mnist-test \(1000 samples\): ([\d.]+)% -> ([\d.]+)% \(drop (-?[\d.]+) pt, allowed 2\)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(97);
    expect(Number(m![3])).toBeLessThanOrEqual(2);
    expect(r.out).toMatch(/parameters\s+266,610\s+1\d\d,\d{3}/);
    expect(existsSync(out)).toBe(true);
  });
});

describe('--dataset never changes what --error means', () => {
  it('the same ranks with and without --dataset; --data-aware without data is a usage error', async () => {
    const model = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
    const data = path.join(repoRoot, 'examples/data/mnist-1k');
    const dir = tempDir();
    const plain = JSON.parse((await mc('compress', '--error', '0.3', '--json', '--no-verify', model, path.join(dir, 'a.onnx'))).out);
    const withData = JSON.parse(
      (await mc('compress', '--error', '0.3', '--json', '--dataset', 'mnist', '--data-dir', data, model, path.join(dir, 'b.onnx'))).out,
    );
    expect(withData.nodes.map((n: { ranks: number[] }) => n.ranks)).toEqual(plain.nodes.map((n: { ranks: number[] }) => n.ranks));
    const bad = await mc('compress', '--error', '0.3', '--data-aware', model, path.join(dir, 'c.onnx'));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--data-aware needs training data');
  });
});
