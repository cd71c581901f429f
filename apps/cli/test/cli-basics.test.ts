import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commands } from '../src/commands/index.js';
import type { FlagSpec } from '../src/flags.js';
import { mc, repoRoot, tempDir } from './helpers.js';

describe('the CLI behaves like one', () => {
  it('--version, -V and -v print the version of @mc/cli', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'apps/cli/package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V', '-v']) {
      const r = await mc(flag);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(`mc ${version}`);
    }
  });

  it('versions come from changesets: every @mc package is released together, with a CHANGELOG whose newest entry is that version', () => {
    const config = JSON.parse(readFileSync(path.join(repoRoot, '.changeset/config.json'), 'utf8')) as { fixed: string[][] };
    expect(config.fixed).toEqual([['@mc/*']]);
    const cli = JSON.parse(readFileSync(path.join(repoRoot, 'apps/cli/package.json'), 'utf8')) as { version: string };
    expect(cli.version).not.toBe('0.0.0');
    const dirs = ['apps/cli', ...readdirSync(path.join(repoRoot, 'packages')).map((d) => `packages/${d}`)];
    for (const dir of dirs.filter((d) => existsSync(path.join(repoRoot, d, 'package.json')))) {
      const pkg = JSON.parse(readFileSync(path.join(repoRoot, dir, 'package.json'), 'utf8')) as { name: string; version: string };
      expect(pkg.version, pkg.name).toBe(cli.version);
      const log = readFileSync(path.join(repoRoot, dir, 'CHANGELOG.md'), 'utf8');
      expect(log.startsWith(`# ${pkg.name}\n`), pkg.name).toBe(true);
      expect(/^## (\S+)$/m.exec(log)?.[1], `${pkg.name} CHANGELOG`).toBe(cli.version);
    }
  });

  it("'mc help <command>' prints that command's help, not the overview", async () => {
    const r = await mc('help', 'quantize');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: mc quantize /);
    expect(r.out).toContain('--mode');
  });

  it('an unknown command or flag gets a did-you-mean suggestion and exit 2', async () => {
    const cmd = await mc('quantise', 'a.onnx', 'b.onnx');
    expect(cmd.code).toBe(2);
    expect(cmd.err).toContain("did you mean 'mc quantize'?");
    const flag = await mc('quantize', '--mdoe', 'fp16', 'a.onnx', 'b.onnx');
    expect(flag.code).toBe(2);
    expect(flag.err).toContain("unknown option '--mdoe'; did you mean --mode?");
    const far = await mc('inspect', '--zzzzzz', 'a.onnx');
    expect(far.code).toBe(2);
    expect(far.err).not.toContain('did you mean');
  });

  it('choices of number flags are enforced before any work', async () => {
    const r = await mc('quantize', '--mode', 'int4', '--block-size', '48', 'missing.onnx', 'out.onnx');
    expect(r.code).toBe(2);
    expect(r.err).toContain('--block-size must be one of 16, 32, 64, 128, 256');
  });

  it('one flag grammar: --finetune is a switch wherever it exists, the epoch count is always --epochs N', async () => {
    const withFinetune: string[] = [];
    for (const entry of commands) {
      const cmd = await entry.load();
      const flags = Object.entries(cmd.flags).filter((e): e is [string, FlagSpec] => e[1] !== null);
      for (const [name, spec] of flags) {
        if (name === 'finetune') {
          expect(spec, `mc ${cmd.name} --finetune`).toMatchObject({ type: 'boolean', valueFlag: 'epochs' });
          expect(cmd.flags.epochs, `mc ${cmd.name} --epochs`).toMatchObject({ type: 'number' });
          withFinetune.push(cmd.name);
        }
        // No other flag takes a number of epochs.
        if (name !== 'epochs') expect(spec.arg ?? '', `mc ${cmd.name} --${name}`).not.toMatch(/epoch/i);
      }
    }
    expect(withFinetune.sort()).toEqual(['compress', 'prune']);
    const model = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
    for (const cmd of ['compress', 'prune']) {
      const r = await mc(cmd, '--finetune', '5', model, path.join(tempDir(), 'x.onnx'));
      expect(r.code, r.err).toBe(2);
      expect(r.err).toContain(
        `mc ${cmd}: --finetune is a switch and takes no value (got '5'); the amount goes in --epochs: --finetune --epochs 5`,
      );
    }
    const r = await mc('compress', '--error', '0.3', '--epochs', '2', model, path.join(tempDir(), 'x.onnx'));
    expect(r.code).toBe(2);
    expect(r.err).toContain('--epochs 2 needs --finetune');
  });

  it('bf16 is not offered: absent from quantize --help, and --mode bf16 is a usage error before any work', async () => {
    const help = await mc('quantize', '--help');
    expect(help.out).toContain('fp16');
    expect(help.out).not.toContain('bf16');
    const r = await mc('quantize', '--mode', 'bf16', 'missing.onnx', 'out.onnx');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--mode must be one of fp16, .*; got 'bf16'/);
  });

  it('commands are listed without loading them; each entry names the command it loads and shows its summary', async () => {
    const help = await mc('--help');
    for (const entry of commands) {
      const cmd = await entry.load();
      expect(cmd.name).toBe(entry.name);
      expect(cmd.summary).toBe(entry.summary);
      expect(help.out).toContain(`  ${entry.name}`);
      expect(help.out).toContain(entry.summary.split('. ')[0]);
    }
  });
});
