import { parseArgs } from 'node:util';
import { UsageError } from './exit-codes.js';

interface FlagBase {
  description: string;
  short?: string;
  /** Placeholder in help, e.g. 'E'. */
  arg?: string;
}

/** A flag without a value (`--json`). */
export interface BooleanFlag extends FlagBase {
  type: 'boolean';
  default?: boolean;
  /**
   * The flag that carries this switch's amount (`finetune` → `epochs`): `--finetune 5` is then a usage error that
   * names `--finetune --epochs 5`, instead of taking 5 as a file.
   */
  valueFlag?: string;
}

/** A number flag; `choices` restricts it to those values (`--block-size 48` is a usage error). */
export interface NumberFlag extends FlagBase {
  type: 'number';
  choices?: readonly number[];
  default?: number;
}

/** A string flag; `choices` restricts it to those values. */
export interface StringFlag extends FlagBase {
  type: 'string';
  choices?: readonly string[];
  default?: string;
}

/** A repeatable, comma-separated string flag. */
export interface StringsFlag extends FlagBase {
  type: 'strings';
}

/** One flag of a command. `--help` is generated from these, so it cannot drift from the parser. */
export type FlagSpec = BooleanFlag | NumberFlag | StringFlag | StringsFlag;

/** A command's flags by name; `null` marks an option field that is set by other means (a positional, another flag). */
export type FlagTable = Readonly<Record<string, FlagSpec | null>>;

/** `blockSize` → `block-size`, `bnL1` → `bn-l1`: the flag name of an options field. */
export type Kebab<S extends string> = S extends `${infer H}${infer R}`
  ? `${H extends Lowercase<H> ? H : `-${Lowercase<H>}`}${Kebab<R>}`
  : '';

/** All fields of every member of a union of option types (a mode-discriminated `*Options`), each optional. */
export type MergeOptions<U> = {
  [K in U extends unknown ? keyof U : never]?: U extends unknown ? (K extends keyof U ? U[K] : never) : never;
};

/**
 * The flag spec an options field of type `V` takes: booleans a boolean flag (or a 'true'/'false' choice), numbers a
 * number flag (with choices when the type is a union of numbers), string unions a string flag whose choices are
 * members of the union, string arrays a repeatable flag, number tuples a string parsed by the command; anything else
 * (callbacks, data) only `null`.
 */
export type SpecFor<V> = [V] extends [boolean]
  ? BooleanFlag | (StringFlag & { choices: readonly ('true' | 'false')[] })
  : [V] extends [number]
    ? number extends V
      ? NumberFlag
      : NumberFlag & { choices: readonly V[] }
    : [V] extends [readonly string[]]
      ? StringsFlag
      : [V] extends [readonly number[]]
        ? StringFlag // parsed from text by the command, e.g. `--nm 2:4`
        : [Extract<V, string>] extends [never]
          ? never
          : string extends Extract<V, string>
            ? StringFlag
            : StringFlag & { choices: readonly Extract<V, string>[] };

/**
 * A flag table typed against a library's options type, in the style of vitest's `cli-config.ts`: every field of `T`
 * (kebab-cased) needs a FlagSpec that fits its type, or an explicit `null` (a field set by other means), so a new
 * option cannot be forgotten in `--help`. Flags of the CLI's own (`--json`, data flags) are added beside them:
 * `const flags = { ... } as const satisfies OptionFlags<QuantizeOptions>`.
 */
export type OptionFlags<T> = { [K in keyof T & string as Kebab<K>]-?: SpecFor<NonNullable<T[K]>> | null } & FlagTable;

/** The value a parsed flag has: from its type, narrowed to its choices. */
export type FlagValue<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'strings' }
    ? string[]
    : S extends { choices: readonly (infer C)[] }
      ? C
      : S extends { type: 'number' }
        ? number
        : string;

/** Values of a table not known at compile time. */
export type LooseFlagValues = Record<string, string | number | boolean | string[] | undefined>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * Parsed flag values typed from a flag table: a flag with a default is always set, any other may be undefined;
 * `null` entries have no value.
 */
export type FlagValues<F = FlagTable> = string extends keyof F
  ? LooseFlagValues
  : Simplify<
      { -readonly [K in keyof F as F[K] extends { default: unknown } ? K : never]: FlagValue<F[K]> } & {
        -readonly [K in keyof F as F[K] extends FlagSpec ? (F[K] extends { default: unknown } ? never : K) : never]?:
          | FlagValue<F[K]>
          | undefined;
      }
    >;

/** What help, the parser and usage errors need of a command. */
export interface CommandInfo<F extends FlagTable = FlagTable> {
  name: string;
  summary: string;
  usage: string;
  flags: F;
  /** Extra help text after the flag list (examples). */
  examples?: readonly string[];
}

/** A subcommand as written: its flag table and a `run` that reads the values typed from that table. */
export interface CommandDefinition<F extends FlagTable> extends CommandInfo<F> {
  run(ctx: CommandContext<FlagValues<F>>): Promise<number | void>;
}

/** What a command gets to run. */
export interface CommandContext<V> {
  flags: V;
  positionals: string[];
  io: CliIO;
}

/** A subcommand as the CLI lists it: what help needs, and argv parsed against the command's own table. */
export interface Command extends CommandInfo {
  /** Parses argv (a UsageError names the fix): the global flags, and the command bound to its typed values. */
  parse(argv: readonly string[]): ParsedCommand;
}

/** A command line parsed for one command. */
export interface ParsedCommand {
  /** `--help`, `--debug`, `--quiet`. */
  global: Record<keyof typeof GLOBAL, boolean>;
  run(io: CliIO): Promise<number | void>;
}

/**
 * A command whose `run` reads its flags typed from its table (`f['block-size']` is `16 | 32 | ...`, no casts); the
 * result is listed in `commands/index.ts`.
 */
export function defineCommand<const F extends FlagTable>(def: CommandDefinition<F>): Command {
  return {
    ...def,
    parse(argv) {
      const { flags, global, positionals } = parseFlags(def, argv);
      return { global, run: (io) => def.run({ flags, positionals, io }) };
    },
  };
}

/**
 * The fields of `o` that are not undefined, typed as optional: spreads into library options under
 * `exactOptionalPropertyTypes` (`{ ...defined({ blockSize: f['block-size'] }) }`).
 */
export function defined<T extends object>(o: T): { [K in keyof T]?: T[K] & ({} | null) } {
  const out: { [K in keyof T]?: T[K] & ({} | null) } = {};
  for (const k in o) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Terminal output of the CLI (commands never write to process streams directly, so tests can capture). */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal: progress bars go there. */
  isTTY: boolean;
  quiet: boolean;
}

const GLOBAL = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  debug: { type: 'boolean', description: 'print stack traces of errors' },
  quiet: { type: 'boolean', short: 'q', description: 'print nothing but errors and the result' },
} as const satisfies FlagTable;

/**
 * Parses argv for one command against its flag table: numbers checked, repeatable flags split at commas, choices
 * enforced, defaults filled in. Throws UsageError with the fix in the message.
 */
export function parseFlags<const F extends FlagTable>(
  cmd: CommandInfo<F>,
  argv: readonly string[],
): { flags: FlagValues<F>; global: Record<keyof typeof GLOBAL, boolean>; positionals: string[] } {
  const specs: FlagTable = { ...cmd.flags, ...GLOBAL };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, s] of Object.entries(specs)) {
    if (s === null) continue;
    options[name] = {
      type: s.type === 'boolean' ? 'boolean' : 'string',
      ...(s.short !== undefined && { short: s.short }),
      ...(s.type === 'strings' && { multiple: true }),
    };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    const raw = e instanceof Error ? e.message : String(e);
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(raw);
    if (unknown !== null) {
      const names = Object.entries(specs)
        .filter(([, s]) => s !== null)
        .map(([n]) => n);
      const guess = nearest(unknown[2]!, names);
      throw new UsageError(
        `mc ${cmd.name}: unknown option '${unknown[1]}${unknown[2]}'${guess === undefined ? '' : `; did you mean --${guess}?`}. See 'mc ${cmd.name} --help'`,
      );
    }
    const msg = raw.replace(/^.*?: /, '').replace(/\. To specify an option argument starting with a dash use --\S+=-XYZ\.?$/, '');
    throw new UsageError(`mc ${cmd.name}: ${msg}; see 'mc ${cmd.name} --help'`);
  }
  refuseSwitchValues(cmd, specs, argv);
  const values: Record<string, string | boolean | (string | boolean)[] | undefined> = parsed.values;
  const flags: LooseFlagValues = {};
  for (const [name, s] of Object.entries(specs)) {
    if (s === null) continue;
    const raw = values[name];
    if (raw === undefined) {
      if (s.type !== 'strings' && s.default !== undefined) flags[name] = s.default;
      continue;
    }
    const value = flagValue(cmd, name, s, raw);
    if (s.type !== 'boolean' && s.type !== 'strings' && s.choices !== undefined && !s.choices.some((c) => c === value)) {
      throw new UsageError(`mc ${cmd.name}: --${name} must be one of ${s.choices.join(', ')}; got '${String(value)}'`);
    }
    flags[name] = value;
  }
  const global = { help: flags.help === true, debug: flags.debug === true, quiet: flags.quiet === true };
  // The one place values meet their types: each was checked above against the spec its type is inferred from.
  return { flags: flags as FlagValues<F>, global, positionals: parsed.positionals };
}

/** `--finetune 5` where `--finetune` is a switch whose amount has its own flag: one spelling, named in the error. */
function refuseSwitchValues(cmd: { name: string }, specs: FlagTable, argv: readonly string[]): void {
  for (let i = 0; i + 1 < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return;
    const s = a.startsWith('--') ? specs[a.slice(2)] : undefined;
    const next = argv[i + 1]!;
    if (s?.type === 'boolean' && s.valueFlag !== undefined && /^\d+(\.\d+)?$/.test(next)) {
      throw new UsageError(
        `mc ${cmd.name}: ${a} is a switch and takes no value (got '${next}'); the amount goes in --${s.valueFlag}: ${a} --${s.valueFlag} ${next}`,
      );
    }
  }
}

/** One flag's value from what parseArgs returned for it. */
function flagValue(
  cmd: { name: string },
  name: string,
  s: FlagSpec,
  raw: string | boolean | (string | boolean)[],
): string | number | boolean | string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  const text = list.filter((v): v is string => typeof v === 'string');
  switch (s.type) {
    case 'boolean':
      return raw === true;
    case 'strings':
      return text.flatMap((v) => v.split(',')).filter((v) => v !== '');
    case 'number': {
      const t = text.at(-1) ?? '';
      const n = Number(t);
      if (t.trim() === '' || Number.isNaN(n)) throw new UsageError(`mc ${cmd.name}: --${name} needs a number, got '${t}'`);
      return n;
    }
    case 'string':
      return text.at(-1) ?? '';
  }
}

/** `--help` text of a command, generated from its flag table. */
export function commandHelp(cmd: CommandInfo): string {
  const lines = [`Usage: mc ${cmd.name} ${cmd.usage}`, '', cmd.summary, '', 'Options:'];
  const rows: [string, string][] = [];
  const specs: FlagTable = { ...cmd.flags, ...GLOBAL };
  for (const [name, s] of Object.entries(specs)) {
    if (s === null) continue;
    const choices = s.type === 'string' || s.type === 'number' ? s.choices : undefined;
    const arg = s.type === 'boolean' ? '' : ` <${s.arg ?? (choices ? choices.join('|') : s.type === 'number' ? 'n' : 'value')}>`;
    const left = `${s.short !== undefined ? `-${s.short}, ` : '    '}--${name}${arg}`;
    const def = s.type !== 'strings' && s.default !== undefined ? ` (default ${String(s.default)})` : '';
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
export function needPositionals(cmd: CommandInfo, positionals: string[], names: readonly string[]): string[] {
  if (positionals.length !== names.length) {
    throw new UsageError(
      `mc ${cmd.name}: expected ${names.map((n) => `<${n}>`).join(' ')}, got ${positionals.length} argument(s); usage: mc ${cmd.name} ${cmd.usage}`,
    );
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
