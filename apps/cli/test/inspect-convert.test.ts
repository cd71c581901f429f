import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const mnist = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const have = existsSync(mnist);
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

const SKIP_1 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'));
describe.skipIf(!have)(`mc inspect / convert on a real model${SKIP_1}`, () => {
  it('inspect --json gives format, opset, params, bytes, macs and nodes', async () => {
    const r = await mc('inspect', '--json', mnist);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: 'onnx', opset: 8, params: 5998, bytes: readFileSync(mnist).length });
    expect(j.macs).toBeGreaterThan(700_000);
    expect(j.nodes.length).toBe(12);
  });

  it('inspect prints a table with totals', async () => {
    const r = await mc('inspect', mnist);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/total: 5,998 params/);
    expect(r.out).toMatch(/Conv\s+Convolution28\s+200/);
  });

  it('convert onnx -> onnx round-trips and leaves the input unchanged', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'copy.onnx');
    const before = sha(mnist);
    const r = await mc('convert', mnist, out);
    expect(r.code).toBe(0);
    expect(sha(mnist)).toBe(before);
    const again = await mc('inspect', '--json', out);
    expect(JSON.parse(again.out).params).toBe(5998);
    expect(readdirSync(dir)).toEqual(['copy.onnx']);
  });
});

describe('bad input gets a coded error, a non-zero exit and no output file', () => {
  const cases: [string, (dir: string) => string, number, RegExp][] = [
    ['missing file', (d) => path.join(d, 'nope.onnx'), 3, /does not exist/],
    ['directory', (d) => (mkdirSync(path.join(d, 'm.onnx')), path.join(d, 'm.onnx')), 3, /is a directory/],
    ['empty file', (d) => (writeFileSync(path.join(d, 'e.onnx'), ''), path.join(d, 'e.onnx')), 3, /empty/],
    [
      'random bytes',
      (d) => (
        writeFileSync(path.join(d, 'r.onnx'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251))),
        path.join(d, 'r.onnx')
      ),
      3,
      /E_(FORMAT|TRUNCATED)/,
    ],
  ];
  for (const [name, make, code, msg] of cases) {
    it(`${name} → exit ${code}`, async () => {
      const dir = tempDir();
      const input = make(dir);
      const out = path.join(dir, 'out.onnx');
      const r = await mc('convert', input, out);
      expect(r.code).toBe(code);
      expect(r.err).toMatch(msg);
      expect(r.err.split('\n').filter(Boolean).length).toBe(1);
      expect(existsSync(out)).toBe(false);
    });
  }

  const SKIP_2 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'));
  it.skipIf(!have)(`every 10% truncation of a real model → exit 3, input unchanged${SKIP_2}`, async () => {
    const dir = tempDir();
    const bytes = readFileSync(mnist);
    for (let k = 1; k < 10; k++) {
      const f = path.join(dir, `t${k}.onnx`);
      writeFileSync(f, bytes.subarray(0, Math.floor((bytes.length * k) / 10)));
      const r = await mc('convert', f, path.join(dir, `o${k}.onnx`));
      expect(r.code, `cut at ${k * 10}%`).toBe(3);
      expect(existsSync(path.join(dir, `o${k}.onnx`))).toBe(false);
    }
  });

  const SKIP_3 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'));
  it.skipIf(!have)(`unknown output extension → usage error, nothing written${SKIP_3}`, async () => {
    const dir = tempDir();
    const r = await mc('convert', mnist, path.join(dir, 'out.xyz'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\.onnx, \.h5, \.keras or model\.json/);
    expect(readdirSync(dir)).toEqual([]);
  });

  const SKIP_6 = skipNote(
    sharedAbsent('models/onnx/mnist-cntk-opset8.onnx') ?? (process.getuid?.() === 0 && 'root can write into a read-only folder'),
  );
  it.skipIf(!have || process.getuid?.() === 0)(`unwritable output directory → exit 3${SKIP_6}`, async () => {
    const dir = tempDir();
    chmodSync(dir, 0o500);
    const r = await mc('convert', mnist, path.join(dir, 'out.onnx'));
    expect(r.code).toBe(3);
  });

  const SKIP_4 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'));
  it.skipIf(!have)(`output into a missing directory → exit 3, no file${SKIP_4}`, async () => {
    const dir = tempDir();
    const r = await mc('convert', mnist, path.join(dir, 'no/such/dir/out.onnx'));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/out\.onnx/);
  });

  const SKIP_5 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx'));
  it.skipIf(!have)(`output path equal to the input is refused${SKIP_5}`, async () => {
    const dir = tempDir();
    const f = path.join(dir, 'm.onnx');
    writeFileSync(f, readFileSync(mnist));
    const r = await mc('convert', f, f);
    expect(r.code).toBe(2);
    expect(sha(f)).toBe(sha(mnist));
  });

  it('unknown command and flags are usage errors', async () => {
    expect((await mc('frobnicate')).code).toBe(2);
    expect((await mc('inspect', '--nope', 'x')).code).toBe(2);
    expect((await mc('inspect')).code).toBe(2);
  });

  it('--help of every command is generated from its flag table', async () => {
    const r = await mc('--help');
    expect(r.code).toBe(0);
    for (const name of ['inspect', 'convert']) {
      const h = await mc(name, '--help');
      expect(h.code).toBe(0);
      expect(h.out).toMatch(new RegExp(`Usage: mc ${name}`));
    }
  });
});
