import { describe, expect, expectTypeOf, it } from 'vitest';
import { commandHelp, defineCommand, defined, type FlagValues, parseFlags } from '../src/flags.js';

const flags = {
  'block-size': { type: 'number', arg: 'N', choices: [16, 32, 64], description: 'block size', default: 32 },
  mode: { type: 'string', choices: ['a', 'b'], description: 'mode' },
  bits: { type: 'number', description: 'bits' },
  exclude: { type: 'strings', description: 'names' },
  json: { type: 'boolean', description: 'json' },
  calibration: null,
} as const;

const info = { name: 't', summary: 'test', usage: '<in>', flags };
const seen: unknown[] = [];
const cmd = defineCommand({
  ...info,
  run: async ({ flags: f, positionals }) => {
    expectTypeOf(f['block-size']).toEqualTypeOf<16 | 32 | 64>();
    seen.push(f['block-size'], f.mode, positionals);
    return 0;
  },
});
const io = { out: () => {}, err: () => {}, isTTY: false, quiet: false };

describe('parseFlags', () => {
  it('types values from the table: defaults always set, choices narrowed, null entries absent', () => {
    expectTypeOf<FlagValues<typeof flags>>().toEqualTypeOf<{
      'block-size': 16 | 32 | 64;
      mode?: 'a' | 'b' | undefined;
      bits?: number | undefined;
      exclude?: string[] | undefined;
      json?: boolean | undefined;
    }>();
  });

  it('fills defaults, parses numbers, splits repeatable flags', () => {
    const r = parseFlags(info, ['--bits', '4', '--exclude', 'a,b', '--exclude', 'c', '--json', 'x.onnx']);
    expect(r.flags).toEqual({ 'block-size': 32, bits: 4, exclude: ['a', 'b', 'c'], json: true });
    expect(r.positionals).toEqual(['x.onnx']);
  });

  it('enforces choices on number flags and string flags', () => {
    expect(() => parseFlags(info, ['--block-size', '48'])).toThrow('--block-size must be one of 16, 32, 64');
    expect(parseFlags(info, ['--block-size', '64']).flags['block-size']).toBe(64);
    expect(() => parseFlags(info, ['--mode', 'c'])).toThrow("--mode must be one of a, b; got 'c'");
  });

  it('a defined command runs on the values parsed from its own table; global flags come apart', async () => {
    const parsed = cmd.parse(['--mode', 'b', '--block-size', '16', '-q', 'in.onnx']);
    expect(parsed.global).toEqual({ help: false, debug: false, quiet: true });
    expect(await parsed.run(io)).toBe(0);
    expect(seen).toEqual([16, 'b', ['in.onnx']]);
    expectTypeOf(parseFlags(info, []).flags.mode).toEqualTypeOf<'a' | 'b' | undefined>();
  });

  it('refuses a number flag given a word', () => {
    expect(() => parseFlags(info, ['--bits', 'four'])).toThrow("--bits needs a number, got 'four'");
  });

  it('help shows the default and skips null entries', () => {
    const help = commandHelp(cmd);
    expect(help).toContain('--block-size <N>');
    expect(help).toContain('block size (default 32)');
    expect(help).not.toContain('calibration');
  });
});

describe('defined', () => {
  it('drops undefined fields and types the rest as optional', () => {
    const o = defined({ a: 1 as number | undefined, b: undefined as string | undefined });
    expect(o).toEqual({ a: 1 });
    expectTypeOf(o).toEqualTypeOf<{ a?: number; b?: string }>();
  });
});
