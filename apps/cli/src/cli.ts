import { readFileSync } from 'node:fs';
// The error class alone: the @mc/ir index (graphs, ops, stats) loads with the command that needs it.
import { McError } from '@mc/ir/errors';
import { exitCodeFor, UsageError } from './exit-codes.js';
import { type CliIO, commandHelp, nearest } from './flags.js';
import { commands } from './commands/index.js';

function mainHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'Usage: mc <command> [options]',
    '',
    'mc makes trained models smaller and faster (low-rank, quantize, prune, distil) and checks them in onnxruntime.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}${c.summary.split('. ')[0]}`),
    '',
    "Run 'mc <command> --help' or 'mc help <command>' for the options of a command; 'mc --version' prints the version.",
    '',
    'Every output is checked in onnxruntime-node before it is written (--no-verify skips it; see docs/verify.md).',
    'Exit codes: 0 ok (a "nothing changed" warning on stderr when the technique found nothing to do), 2 usage,',
    '3 unreadable or corrupt input or NaN/Inf weights, 4 unsupported (e.g. an op onnxruntime cannot run for the check),',
    '5 verification failed (nothing written), 70 internal error, 130/143 interrupted (temp files removed).',
    '',
  ].join('\n');
}

/** The version of the installed `@mc/cli` package (set by `changeset version`). */
function cliVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Runs the CLI with `argv` (without node and script), returning the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  const debug = argv.includes('--debug');
  if (name === 'help' && rest[0] !== undefined && !rest[0].startsWith('-')) return runCli([rest[0], '--help'], io);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === '-V' || name === 'version') {
    io.out(`mc ${cliVersion()}`);
    return 0;
  }
  const entry = commands.find((c) => c.name === name);
  try {
    if (entry === undefined) {
      const guess = nearest(
        name,
        commands.map((c) => c.name),
      );
      throw new UsageError(
        `unknown command '${name}'${guess === undefined ? '' : `; did you mean 'mc ${guess}'?`} Commands: ${commands.map((c) => c.name).join(', ')}`,
      );
    }
    const cmd = await entry.load();
    const parsed = cmd.parse(rest);
    if (parsed.global.help) {
      io.out(commandHelp(cmd));
      return 0;
    }
    const sub: CliIO = { ...io, quiet: parsed.global.quiet };
    const code = await parsed.run(sub);
    return code ?? 0;
  } catch (e) {
    const code = exitCodeFor(e);
    const msg = e instanceof Error ? e.message : String(e);
    const prefix = McError.is(e) ? `mc: error [${e.code}]` : e instanceof UsageError ? 'mc: usage' : 'mc: internal error';
    io.err(`${prefix}: ${msg}`);
    if (debug && e instanceof Error && e.stack !== undefined) io.err(e.stack);
    else if (code === 70) io.err('This is a bug in mc; rerun with --debug and report the stack trace.');
    return code;
  }
}
