import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot, skipNote, tempDir } from './helpers.js';

const run = promisify(execFile);
const cliDir = path.join(repoRoot, 'apps/cli');
const main = path.join(cliDir, 'dist/main.js');
const built = existsSync(main);
const model = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const pnpm = has('pnpm');
const npx = has('npx');
const version = JSON.parse(readFileSync(path.join(cliDir, 'package.json'), 'utf8')).version as string;

/** Copies the bundled model into a fresh folder, runs `argv` there, and checks the answers of a relative-path user. */
async function fromElsewhere(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cwd = tempDir();
  copyFileSync(model, path.join(cwd, 'm.onnx'));
  const v = await run(argv[0], [...argv.slice(1), '--version'], { cwd, env });
  expect(v.stdout.trim()).toBe(`mc ${version}`);
  const i = await run(argv[0], [...argv.slice(1), 'inspect', '--json', 'm.onnx'], { cwd, env });
  expect(JSON.parse(i.stdout).format).toBe('onnx');
  await run(argv[0], [...argv.slice(1), 'convert', 'm.onnx', 'copy.onnx'], { cwd, env });
  expect(statSync(path.join(cwd, 'copy.onnx')).size).toBeGreaterThan(1000);
}

describe.skipIf(!built)(`the mc binary${skipNote(!built && 'apps/cli/dist/main.js is not built (pnpm build)')}`, () => {
  it('package.json bin maps mc to dist/main.js, which starts with a node shebang', () => {
    const pkg = JSON.parse(readFileSync(path.join(cliDir, 'package.json'), 'utf8'));
    expect(pkg.bin).toEqual({ mc: './dist/main.js' });
    expect(readFileSync(main, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('node <repo>/apps/cli/dist/main.js from another folder: version, and relative paths resolve from that folder', async () => {
    await fromElsewhere([process.execPath, main]);
  });

  it.skipIf(!pnpm)(
    `pnpm link --global (temporary PNPM_HOME, offline) puts mc on PATH${skipNote(!pnpm && 'pnpm is not on PATH')}`,
    async () => {
      const home = tempDir();
      const env = { ...process.env, PNPM_HOME: home, PATH: `${home}${path.delimiter}${process.env.PATH ?? ''}` };
      await run('pnpm', ['link', '--global'], { cwd: cliDir, env });
      expect(existsSync(path.join(home, 'mc'))).toBe(true);
      await fromElsewhere([path.join(home, 'mc')], env);
    },
  );

  it.skipIf(!npx)(
    `npx <repo>/apps/cli runs it without installing anything from the registry${skipNote(!npx && 'npx is not on PATH')}`,
    async () => {
      await fromElsewhere(['npx', '--offline', '--yes', cliDir]);
    },
  );

  it.skipIf(!pnpm)(
    `'pnpm -s mc' from a folder inside the repository takes relative paths from that folder${skipNote(!pnpm && 'pnpm is not on PATH')}`,
    async () => {
      // pnpm runs the root script with the repository root as cwd; mc moves back to INIT_CWD, the caller's folder.
      mkdirSync(path.join(repoRoot, '.tmp'), { recursive: true });
      const cwd = mkdtempSync(path.join(repoRoot, '.tmp', 'pnpm-mc-'));
      try {
        copyFileSync(model, path.join(cwd, 'm.onnx'));
        const i = await run('pnpm', ['-s', 'mc', 'inspect', '--json', 'm.onnx'], { cwd });
        expect(JSON.parse(i.stdout).format).toBe('onnx');
        await run('pnpm', ['-s', 'mc', 'convert', 'm.onnx', 'copy.onnx'], { cwd });
        expect(readdirSync(cwd).sort()).toEqual(['copy.onnx', 'm.onnx']);
        expect(existsSync(path.join(repoRoot, 'copy.onnx'))).toBe(false);
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    },
  );
});

describe('the README shows how to run mc as a binary', () => {
  it('pnpm link --global, npx <repo>/apps/cli and node .../dist/main.js, the three ways tested above', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    expect(readme).toContain('`apps/cli` declares `bin: { mc }`');
    expect(readme).toMatch(/^cd apps\/cli && pnpm link --global/m);
    expect(readme).toMatch(/^npx \S+\/apps\/cli inspect model\.onnx/m);
    expect(readme).toMatch(/^node \S+\/apps\/cli\/dist\/main\.js inspect model\.onnx/m);
  });
});
