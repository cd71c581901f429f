import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeOnnx } from '@mc/io-onnx';
import { smallNet } from './helpers.js';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const packages = ['ir', 'io-onnx', 'quantize'];
const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;

// Packaging: the published tarballs of @mc/quantize and its @mc dependencies, installed with npm into an empty project
// outside the workspace, quantize a model file with a 5-line script.
describe.skipIf(!npm)('pnpm pack → npm install in an empty project', () => {
  it('a 5-line script quantizes a model file with the installed packages', { timeout: 240_000 }, () => {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/quantize'], {
      cwd: root,
      stdio: 'pipe',
    });
    const dir = mkdtempSync(join(tmpdir(), 'mc-pack-'));
    try {
      const tgz = join(dir, 'tgz');
      for (const p of packages)
        execFileSync('pnpm', ['pack', '--pack-destination', tgz], { cwd: join(root, 'packages', p), stdio: 'pipe' });
      const app = join(dir, 'app');
      execFileSync('mkdir', ['-p', app]);
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      const files = readdirSync(tgz).map((f) => join(tgz, f));
      execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files], {
        cwd: app,
        stdio: 'pipe',
        env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      });
      writeFileSync(join(app, 'model.onnx'), writeOnnx(smallNet()));
      writeFileSync(
        join(app, 'q.mjs'),
        [
          "import { loadOnnx, saveOnnx } from '@mc/io-onnx';",
          "import { quantize } from '@mc/quantize';",
          "const { model, report } = await quantize(await loadOnnx('model.onnx'), { mode: 'int8-weights' });",
          "await saveOnnx(model, 'model.int8.onnx');",
          'console.log(JSON.stringify({ before: report.before.paramBytes, after: report.after.paramBytes }));',
        ].join('\n'),
      );
      const out = execFileSync(process.execPath, ['q.mjs'], { cwd: app, encoding: 'utf8' });
      const r = JSON.parse(out.trim()) as { before: number; after: number };
      expect(r.after / r.before).toBeLessThan(0.27);
      expect(readdirSync(app)).toContain('model.int8.onnx');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
