import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './shared.js';
import { reasonsInTitle } from './skip-reasons.js';

describe('reasonsInTitle', () => {
  it('reads every "(skipped: …)" group, nested parentheses included', () => {
    expect(reasonsInTitle('a (skipped: x (y) z) b (skipped: w)')).toEqual(['x (y) z', 'w']);
    expect(reasonsInTitle('no reason here (1 + 2)')).toEqual([]);
  });
});

// Files whose real-data tests skip without ../shared, and whose other tests are quick.
const FILES = [
  'packages/lowrank/test/real-kernels.test.ts',
  'packages/pipeline/test/prune-compose.test.ts',
  'packages/io-keras/test/models.test.ts',
  'packages/io-onnx/test/conformance.test.ts',
  'apps/cli/test/run.test.ts',
];

describe('without ../shared (MC_SHARED_DIR naming an empty folder)', () => {
  it('each file with skipped tests prints one line giving the count and the missing file', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'mc-no-shared-'));
    const vitest = path.join(REPO_ROOT, 'node_modules/vitest/vitest.mjs');
    const { stdout } = await promisify(execFile)(process.execPath, [vitest, 'run', ...FILES], {
      cwd: REPO_ROOT,
      env: { ...process.env, MC_SHARED_DIR: empty, NO_COLOR: '1', FORCE_COLOR: '0' },
      maxBuffer: 1 << 24,
    });
    const block = stdout.slice(stdout.indexOf('Skipped tests, once per file:'));
    const lines = block.split('\n').filter((l) => l.trim().startsWith('↓'));
    expect(lines.map((l) => l.trim().split(':')[0]!.slice(2)).sort()).toEqual([...FILES].sort());
    for (const l of lines) expect(l).toMatch(/: [1-9]\d* skipped: \$MC_SHARED_DIR\/\S+ is absent/);
    expect(block).not.toContain('no reason');
  });
});
