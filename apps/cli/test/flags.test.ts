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

const cmd = defineCommand({ name: 't', summary: 'test', usage: '<in>', flags, run: async () => 0 });

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
    const r = parseFlags(cmd, ['--bits', '4', '--exclude', 'a,b', '--exclude', 'c', '--json', 'x.onnx']);
    expect(r.flags).toEqual({ 'block-size': 32, bits: 4, exclude: ['a', 'b', 'c'], json: true });
    expect(r.positionals).toEqual(['x.onnx']);
  });

  it('enforces choices on number flags and string flags', () => {
    expect(() => parseFlags(cmd, ['--block-size', '48'])).toThrow('--block-size must be one of 16, 32, 64');
    expect(parseFlags(cmd, ['--block-size', '64']).flags['block-size']).toBe(64);
    expect(() => parseFlags(cmd, ['--mode', 'c'])).toThrow("--mode must be one of a, b; got 'c'");
  });

  it('refuses a number flag given a word', () => {
    expect(() => parseFlags(cmd, ['--bits', 'four'])).toThrow("--bits needs a number, got 'four'");
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
