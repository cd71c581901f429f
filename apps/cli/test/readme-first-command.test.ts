import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { mc, repoRoot, sharedAbsent, shared, skipNote, tempDir } from './helpers.js';

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

  it('without its fine-tuning the drop exceeds the default budget: exit 5, top-1 before and after named, nothing written', async () => {
    // The README's arguments less `--finetune --epochs N`: the same factorisation, unrecovered.
    const i = args.indexOf('--finetune');
    expect(i, 'the README command fine-tunes').toBeGreaterThan(0);
    const rest = args.filter((a, j) => j !== i && a !== '--epochs' && args[j - 1] !== '--epochs');
    const out = path.join(tempDir(), 'refused.onnx');
    const argv = [...rest.slice(0, -1).map((a) => (a.startsWith('examples/') ? path.join(repoRoot, a) : a)), out];
    const r = await mc(...argv);
    expect(r.code, r.err).toBe(5);
    const m =
      /top-1 accuracy on mnist-test fell ([\d.]+) points \(([\d.]+)% -> ([\d.]+)%, 1000 samples\), more than --max-accuracy-drop 2/.exec(
        r.err,
      );
    expect(m, r.err).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(2);
    expect(Number(m![2])).toBeGreaterThan(97);
    expect(existsSync(out)).toBe(false);
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

describe('installing onnxruntime-node offline', () => {
  // npm runs onnxruntime-node's install script, which downloads CUDA files and fails offline; the docs give the skip.
  const pkg = realpathSync(path.join(repoRoot, 'packages/verify/node_modules/onnxruntime-node'));
  const said = /`([A-Z_]+)=skip npm i\s+onnxruntime-node`/;

  it('README and docs/deploy.md give the same skip setting, and the workspace install skips the script', () => {
    const readmeVar = said.exec(readme.replace(/\n\s*/g, ' '))?.[1];
    const deployVar = said.exec(readFileSync(path.join(repoRoot, 'docs/deploy.md'), 'utf8').replace(/\n\s*/g, ' '))?.[1];
    expect(readmeVar).toBe('ONNXRUNTIME_NODE_INSTALL');
    expect(deployVar).toBe(readmeVar);
    expect(readFileSync(path.join(repoRoot, 'pnpm-workspace.yaml'), 'utf8')).toMatch(/allowBuilds:\s*\n\s*onnxruntime-node: false/);
  });

  it("the installed package's script reads that variable: 'skip' exits 0 at once, with no download", () => {
    const script = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')).scripts.postinstall as string;
    expect(script).toBe('node ./script/install');
    const flag = (env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, ['-p', "require('./script/install-utils.js').parseInstallFlag()"], {
        cwd: pkg,
        env: { PATH: process.env.PATH, ...env },
        encoding: 'utf8',
      }).stdout.trim();
    expect(flag({ ONNXRUNTIME_NODE_INSTALL: 'skip' })).toBe('false');
    expect(flag({ ONNXRUNTIME_NODE_INSTALL: '1' })).toBe('true'); // control: forces the download
    expect(flag({})).toBe('undefined'); // npm's default: the script decides, and downloads on linux/x64
    const run = spawnSync(process.execPath, ['script/install.js'], {
      cwd: pkg,
      env: { PATH: process.env.PATH, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      timeout: 20_000,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
  });
});

describe('the bundled MNIST subset (examples/data/mnist-1k) and its provenance', () => {
  const dir = path.join(repoRoot, 'examples/data/mnist-1k');
  const FILES = ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz'];

  it('every file has the sha256 its README gives, and the README names the source and licence', () => {
    const doc = readFileSync(path.join(dir, 'README.md'), 'utf8');
    expect(doc).toMatch(/LeCun.*Cortes.*Burges/s);
    expect(doc).toContain('CC BY-SA 3.0');
    for (const f of FILES) {
      const want = new RegExp(`\\| \`${f.replace(/\./g, '\\.')}\` \\| \`([0-9a-f]{64})\` \\|`).exec(doc)?.[1];
      expect(want, f).toBeDefined();
      expect(
        createHash('sha256')
          .update(readFileSync(path.join(dir, f)))
          .digest('hex'),
        f,
      ).toBe(want);
    }
  });

  const why = sharedAbsent(...FILES.map((f) => `data/mnist/${f}`));
  it.skipIf(why !== undefined)(`holds the first 1,000 records of each full MNIST file, header count set to 1,000${skipNote(why)}`, () => {
    for (const f of FILES) {
      const small = gunzipSync(readFileSync(path.join(dir, f)));
      const full = gunzipSync(readFileSync(path.join(shared, 'data/mnist', f)));
      const header = f.includes('images') ? 16 : 8;
      const record = f.includes('images') ? 28 * 28 : 1;
      expect(small.readUInt32BE(0), f).toBe(full.readUInt32BE(0)); // magic
      expect(small.readUInt32BE(4), f).toBe(1000);
      expect(small.subarray(8, header).equals(full.subarray(8, header)), f).toBe(true); // rows, cols
      expect(small.length, f).toBe(header + 1000 * record);
      expect(small.subarray(header).equals(full.subarray(header, header + 1000 * record)), f).toBe(true);
    }
  });
});
