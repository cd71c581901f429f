import { parseArgs } from 'node:util';
import { UsageError } from './exit-codes.js';

/** One flag of a command. `--help` is generated from these, so it cannot drift from the parser. */
export interface FlagSpec {
  type: 'string' | 'number' | 'boolean' | 'strings';
  description: string;
  short?: string;
  choices?: readonly string[];
  default?: string | number | boolean;
  /** Placeholder in help, e.g. 'E'. */
  arg?: string;
}

/**
 * A flag table typed against the shape a command builds: every field needs a FlagSpec or an explicit `null`
 * (a field set by other means, e.g. a positional), so a new option cannot be forgotten in `--help`.
 */
export type CliFlags<T> = { [K in keyof T]-?: FlagSpec | null };

/** Parsed flag values. */
export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

/** A subcommand. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec | null>;
  /** Extra help text after the flag list (examples). */
  examples?: readonly string[];
  run(ctx: CommandContext): Promise<number | void>;
}

/** What a command gets to run. */
export interface CommandContext {
  flags: FlagValues;
  positionals: string[];
  io: CliIO;
}

/** Terminal output of the CLI (commands never write to process streams directly, so tests can capture). */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal: progress bars go there. */
  isTTY: boolean;
  quiet: boolean;
}

const GLOBAL: Record<string, FlagSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  debug: { type: 'boolean', description: 'print stack traces of errors' },
  quiet: { type: 'boolean', short: 'q', description: 'print nothing but errors and the result' },
};

/** Parses argv for one command against its flag table. Throws UsageError with the fix in the message. */
export function parseFlags(cmd: Command, argv: readonly string[]): { flags: FlagValues; positionals: string[] } {
  const specs = { ...cmd.flags, ...GLOBAL };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    if (s === null) continue;
    options[name] = { type: s.type === 'boolean' ? 'boolean' : 'string', ...(s.short !== undefined && { short: s.short }), ...(s.type === 'strings' && { multiple: true }) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(raw);
    if (unknown !== null) {
      const names = Object.entries(specs).filter(([, s]) => s !== null).map(([n]) => n);
      const guess = nearest(unknown[2]!, names);
      throw new UsageError(`mc ${cmd.name}: unknown option '${unknown[1]}${unknown[2]}'${guess === undefined ? '' : `; did you mean --${guess}?`}. See 'mc ${cmd.name} --help'`);
    }
    const msg = raw.replace(/^.*?: /, '').replace(/\. To specify an option argument starting with a dash use --\S+=-XYZ\.?$/, '');
    throw new UsageError(`mc ${cmd.name}: ${msg}; see 'mc ${cmd.name} --help'`);
  }
  const flags: FlagValues = {};
  for (const [name, s] of Object.entries(specs)) {
    if (s === null) continue;
    const raw = (parsed.values as Record<string, unknown>)[name];
    if (raw === undefined) {
      if (s.default !== undefined) flags[name] = s.default;
      continue;
    }
    if (s.type === 'number') {
      const n = Number(raw);
      if (typeof raw !== 'string' || raw.trim() === '' || Number.isNaN(n)) {
        throw new UsageError(`mc ${cmd.name}: --${name} needs a number, got '${String(raw)}'`);
      }
      flags[name] = n;
    } else if (s.type === 'strings') {
      flags[name] = (raw as string[]).flatMap((v) => v.split(',')).filter((v) => v !== '');
    } else {
      flags[name] = raw as string | boolean;
    }
    if (s.choices !== undefined && (typeof flags[name] === 'string' || typeof flags[name] === 'number') && !s.choices.includes(String(flags[name]))) {
      throw new UsageError(`mc ${cmd.name}: --${name} must be one of ${s.choices.join(', ')}; got '${String(flags[name])}'`);
    }
  }
  return { flags, positionals: parsed.positionals };
}

/** `--help` text of a command, generated from its flag table. */
export function commandHelp(cmd: Command): string {
  const lines = [`Usage: mc ${cmd.name} ${cmd.usage}`, '', cmd.summary, '', 'Options:'];
  const rows: [string, string][] = [];
  for (const [name, s] of Object.entries({ ...cmd.flags, ...GLOBAL })) {
    if (s === null) continue;
    const arg = s.type === 'boolean' ? '' : ` <${s.arg ?? (s.choices ? s.choices.join('|') : s.type === 'number' ? 'n' : 'value')}>`;
    const left = `${s.short !== undefined ? `-${s.short}, ` : '    '}--${name}${arg}`;
    const def = s.default !== undefined ? ` (default ${String(s.default)})` : '';
    rows.push([left, `${s.description}${def}${s.type === 'strings' ? ' (repeatable, comma-separated)' : ''}`]);
  }
  // Long flag columns (e.g. a list of choices) put their description on the next line instead of widening all rows.
  const w = Math.min(36, Math.max(...rows.map(([l]) => l.length))) + 2;
  for (const [l, r] of rows) {
    if (l.length + 2 > w) lines.push(`  ${l}`, `  ${''.padEnd(w)}${r}`);
    else lines.push(`  ${l.padEnd(w)}${r}`);
  }
  if (cmd.examples !== undefined && cmd.examples.length > 0) {
    lines.push('', 'Examples:');
    for (const e of cmd.examples) lines.push(`  ${e}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Requires exactly `n` positionals, naming them in the error. */
export function needPositionals(cmd: Command, positionals: string[], names: readonly string[]): string[] {
  if (positionals.length !== names.length) {
    throw new UsageError(`mc ${cmd.name}: expected ${names.map((n) => `<${n}>`).join(' ')}, got ${positionals.length} argument(s); usage: mc ${cmd.name} ${cmd.usage}`);
  }
  return positionals;
}

/** Edit distance of two short words (flag and command names), for did-you-mean suggestions. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (a unique prefix, or at most max(2, a third of its length) edits away), or undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const prefixed = candidates.filter((c) => c.startsWith(w) || w.startsWith(c));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(w.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(w, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}
