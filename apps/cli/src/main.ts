#!/usr/bin/env node
import { runCli } from './cli.js';

// `pnpm mc ...` runs the script in the workspace root; relative paths are meant from the folder pnpm was called in.
if (process.env.npm_lifecycle_event === 'mc' && process.env.INIT_CWD !== undefined && process.env.INIT_CWD !== process.cwd()) {
  process.chdir(process.env.INIT_CWD);
}

const code = await runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  isTTY: process.stderr.isTTY === true,
  quiet: false,
});
process.exitCode = code;
