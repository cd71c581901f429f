import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McError, ModelBuilder, Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { describe, expect, test } from 'vitest';
import { loadOnnx, readOnnx, saveOnnx, writeOnnx } from '../src/index.js';

function mlp(width: number, layers: number) {
  const b = new ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', [1, width]);
  const g = seededNormal(1);
  for (let i = 0; i < layers; i++) {
    const w = b.initializer(
      `w${i}`,
      new Tensor(
        'float32',
        [width, width],
        Float32Array.from({ length: width * width }, () => g() * 0.05),
      ),
    );
    const bias = b.initializer(
      `b${i}`,
      new Tensor(
        'float32',
        [width],
        Float32Array.from({ length: width }, () => g()),
      ),
    );
    x = b.node('Add', [b.node('MatMul', [x, w]), bias]);
  }
  b.output(x, 'y', { dtype: 'float32', shape: [1, width] });
  return b.build();
}

describe('external data', () => {
  test('save with a threshold, load lazily, bytes identical to the in-memory tensors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-ext-'));
    const model = mlp(64, 3);
    const path = join(dir, 'mlp.onnx');
    const res = await saveOnnx(model, path, { externalData: { threshold: 1024 } });
    expect(res.externalTensors).toBe(3); // the 64x64 weights; the 256-byte biases stay inline
    expect(existsSync(join(dir, 'mlp.onnx.data'))).toBe(true);
    expect(statSync(path).size).toBeLessThan(4096);
    const back = await loadOnnx(path);
    const w0 = back.graph.initializers.get('w0')!.constValue!;
    expect(w0.isLazy).toBe(true);
    expect(w0.info.external?.get('location')).toBe('mlp.onnx.data');
    expect(
      Buffer.compare(
        Buffer.from((w0.data as Float32Array).buffer),
        Buffer.from((model.graph.initializers.get('w0')!.constValue!.data as Float32Array).buffer),
      ),
    ).toBe(0);
    expect(back.graph.initializers.get('b0')!.constValue!.isLazy).toBe(false);
    // Writing to bytes brings the external tensors inline: same model as the original.
    const inline = readOnnx(writeOnnx(back)).graph.initializers.get('w0')!.constValue!;
    expect(inline.isLazy).toBe(false);
    expect(inline.info.external).toBeUndefined();
    expect(Array.from(inline.data as Float32Array)).toEqual(Array.from(w0.data as Float32Array));
  });

  test('loadOnnx then saveOnnx elsewhere copies external tensors range by range (lazy tensors stay lazy)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-ext-stream-'));
    const src = join(dir, 'a.onnx');
    await saveOnnx(mlp(512, 16), src, { externalData: { threshold: 0 } }); // 16 MiB of weights
    const m = await loadOnnx(src);
    const dst = join(dir, 'out', 'b.onnx');
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'out')));
    const res = await saveOnnx(m, dst); // default: what was external stays external
    expect(res.externalTensors).toBe(32);
    expect(res.externalPath).toBe(join(dir, 'out', 'b.onnx.data'));
    for (const v of m.graph.initializers.values()) expect(v.constValue!.isLazy).toBe(true);
    const again = await loadOnnx(dst);
    for (const [name, v] of m.graph.initializers) {
      const a = v.constValue!.data as Float32Array;
      const b = again.graph.initializers.get(name)!.constValue!.data as Float32Array;
      expect(Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(0);
    }
    // Offsets of large tensors are page aligned.
    const off = Number(again.graph.initializers.get('w3')!.constValue!.info.external!.get('offset'));
    expect(off % 4096).toBe(0);
  });

  test('saving over the data file the model still reads from is refused; the input is untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-ext-self-'));
    const src = join(dir, 'a.onnx');
    await saveOnnx(mlp(64, 2), src, { externalData: { threshold: 0 } });
    const before = readFileSync(`${src}.data`);
    const m = await loadOnnx(src);
    await expect(saveOnnx(m, src)).rejects.toMatchObject({ code: 'E_OPTION' });
    expect(Buffer.compare(readFileSync(`${src}.data`), before)).toBe(0);
    expect(readFileSync(src).length).toBeGreaterThan(0);
  });

  test('a missing or short .data file is a coded error naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-ext-missing-'));
    const src = join(dir, 'a.onnx');
    await saveOnnx(mlp(64, 1), src, { externalData: { threshold: 0 } });
    const bytes = readFileSync(src);
    const err = (() => {
      try {
        readOnnx(bytes, { file: 'elsewhere/a.onnx', baseDir: join(dir, 'nowhere') });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(McError.is(err) && err.code).toBe('E_IO');
    expect(String((err as Error).message)).toMatch(/a\.onnx\.data/);
    // Without a folder the tensor stays lazy and says how to fix it when read.
    const m = readOnnx(bytes);
    expect(() => m.graph.initializers.get('w0')!.constValue!.data).toThrow(/pass \{baseDir\}/);
  });

  test('progress per external tensor; an abort removes the temporary files and throws the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-ext-progress-'));
    const seen: number[] = [];
    await saveOnnx(mlp(64, 3), join(dir, 'a.onnx'), { externalData: { threshold: 1024 }, onProgress: (e) => seen.push(e.externalTensors) });
    expect(seen).toEqual([1, 2, 3]);
    const ac = new AbortController();
    const p = saveOnnx(mlp(64, 3), join(dir, 'b.onnx'), {
      externalData: { threshold: 1024 },
      signal: ac.signal,
      onProgress: (e) => e.externalTensors === 2 && ac.abort(new Error('stop')),
    });
    await expect(p).rejects.toThrow('stop');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dir).sort()).toEqual(['a.onnx', 'a.onnx.data']);
  });

  test('an external-data location outside the model folder is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-ext-loc-'));
    await expect(saveOnnx(mlp(8, 1), join(dir, 'a.onnx'), { externalData: { location: '../a.data' } })).rejects.toMatchObject({
      code: 'E_OPTION',
    });
    await expect(saveOnnx(mlp(8, 1), join(dir, 'a.onnx'), { externalData: { location: '/tmp/a.data' } })).rejects.toMatchObject({
      code: 'E_OPTION',
    });
  });

  test('a model over 2 GiB inline is refused with the fix', () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1]);
    // A lazy 2.1 GiB tensor (never read): the size check happens before any byte is touched.
    const big = new Tensor('float32', [2 ** 29 + 2 ** 25], () => {
      throw new Error('must not be read');
    });
    const w = b.initializer('w', big);
    b.output(b.node('Add', [x, w]), 'y');
    expect(() => writeOnnx(b.build())).toThrow(/2 GiB.*externalData/);
  });
});
