import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McError } from '@mc/ir';
import { seededRandom } from '@mc/ir/testing';
import { describe, expect, test } from 'vitest';
import { loadOnnx, readOnnx } from '../src/index.js';
import { hasModels, onnxModels } from './paths.js';
import { sharedAbsent, skipNote } from '../../../test-support/shared.js';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (!McError.is(e)) throw e;
    return e.code;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mc-io-onnx-bad-'));

describe('bad input gives a coded McError naming the file', () => {
  test('empty file -> E_FORMAT', async () => {
    const f = join(dir, 'empty.onnx');
    writeFileSync(f, new Uint8Array(0));
    await expect(loadOnnx(f)).rejects.toMatchObject({ code: 'E_FORMAT', context: { file: f } });
    await expect(loadOnnx(f)).rejects.toThrow(/empty.onnx is empty/);
  });

  test('missing file -> E_IO', async () => {
    const f = join(dir, 'nope.onnx');
    await expect(loadOnnx(f)).rejects.toMatchObject({ code: 'E_IO', context: { file: f } });
    await expect(loadOnnx(f)).rejects.toThrow(/does not exist; check the path/);
  });

  test('directory -> E_IO', async () => {
    await expect(loadOnnx(dir)).rejects.toMatchObject({ code: 'E_IO' });
    await expect(loadOnnx(dir)).rejects.toThrow(/is a directory/);
  });

  test('random bytes -> E_FORMAT or E_TRUNCATED, never a crash', async () => {
    for (let seed = 0; seed < 50; seed++) {
      const r = seededRandom(seed);
      const b = Uint8Array.from({ length: 1 + Math.floor(r() * 4096) }, () => Math.floor(r() * 256));
      const f = join(dir, `random-${seed}.onnx`);
      writeFileSync(f, b);
      expect(['E_FORMAT', 'E_TRUNCATED', 'E_UNSUPPORTED']).toContain(await codeOf(loadOnnx(f)));
    }
  });

  test.skipIf(!hasModels)(
    `every 10% truncation of a real model -> coded error naming the file${skipNote(sharedAbsent('models/onnx'))}`,
    async () => {
      const full = new Uint8Array(readFileSync(join(onnxModels, 'mnist-cntk-opset8.onnx')));
      for (let k = 0; k < 10; k++) {
        const f = join(dir, `trunc-${k}.onnx`);
        writeFileSync(f, full.subarray(0, Math.floor((full.length * k) / 10)));
        const code = await codeOf(loadOnnx(f));
        expect(['E_FORMAT', 'E_TRUNCATED'], `cut at ${k * 10}%`).toContain(code);
        if (k > 0) await expect(loadOnnx(f)).rejects.toThrow(f);
      }
    },
  );

  test('saving into a missing folder -> E_IO naming the file; no temporary files are left behind', async () => {
    const { ModelBuilder } = await import('@mc/ir');
    const { saveOnnx } = await import('../src/index.js');
    const { readdirSync } = await import('node:fs');
    const b = new ModelBuilder({ opset: 17 });
    b.output(b.node('Relu', [b.input('x', 'float32', [1])]), 'y');
    const f = join(dir, 'no-such-folder', 'm.onnx');
    await expect(saveOnnx(b.build(), f)).rejects.toMatchObject({ code: 'E_IO', context: { file: f } });
    const before = readdirSync(dir).length;
    await saveOnnx(b.build(), join(dir, 'ok.onnx'));
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    expect(readdirSync(dir).length).toBe(before + 1);
  });

  test('readOnnx on bytes names the file it is told', () => {
    expect(() => readOnnx(new Uint8Array([0x0a, 0xff, 0xff]), { file: 'x.onnx' })).toThrow(/x\.onnx/);
  });
});
