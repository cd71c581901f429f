import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, repoRoot } from './helpers.js';

describe('the CLI behaves like one', () => {
  it('--version, -V and -v print the version of @mc/cli', async () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'apps/cli/package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V', '-v']) {
      const r = await mc(flag);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(`mc ${version}`);
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
});
