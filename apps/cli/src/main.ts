#!/usr/bin/env node
import { installSignalCleanup } from './temp-files.js';

// `pnpm mc ...` runs the script in the workspace root; relative paths are meant from the folder pnpm was called in.
if (process.env.npm_lifecycle_event === 'mc' && process.env.INIT_CWD !== undefined && process.env.INIT_CWD !== process.cwd()) {
  process.chdir(process.env.INIT_CWD);
}

const err = (t: string): boolean => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`);
// Installed before the commands (and onnxruntime) load, so an early Ctrl-C is handled too.
installSignalCleanup(err);
const { runCli } = await import('./cli.js');
const code = await runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err,
  isTTY: process.stderr.isTTY === true,
  quiet: false,
});
process.exitCode = code;
