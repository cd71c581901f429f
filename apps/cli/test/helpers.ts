import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli.js';
import { SHARED_DIR } from '../../../test-support/shared.js';
export { sharedAbsent, skipNote } from '../../../test-support/shared.js';

/** Repository root and the shared data beside it. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const shared = SHARED_DIR;

/** Runs the CLI in-process and captures its output. */
export async function mc(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (t) => (out += `${t}\n`),
    err: (t) => (err += `${t}\n`),
    isTTY: false,
    quiet: false,
  });
  return { code, out, err };
}

/** A fresh temp directory. */
export function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'mc-cli-'));
}
