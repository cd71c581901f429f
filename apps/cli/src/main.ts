#!/usr/bin/env node
import { installSignalCleanup } from './temp-files.js';

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
