#!/usr/bin/env node
import { runCli } from './cli.js';
import { installSignalCleanup } from './temp-files.js';

const err = (t: string): boolean => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`);
installSignalCleanup(err);
const code = await runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err,
  isTTY: process.stderr.isTTY === true,
  quiet: false,
});
process.exitCode = code;
