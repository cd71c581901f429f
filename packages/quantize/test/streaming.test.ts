import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import { ModelBuilder, Tensor } from '@mc/ir';
import { quantize } from '@mc/quantize';

function model(lazy: boolean) {
  const b = new ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', [1, 64]);
  for (let i = 0; i < 3; i++) {
    const fill = () => Float32Array.from({ length: 64 * 64 }, (_, j) => Math.sin(j * 0.37 + i));
    x = b.node('MatMul', [x, b.initializer(`w${i}`, new Tensor('float32', [64, 64], lazy ? fill : fill()))]);
  }
  b.output(x, 'y');
  return b.build();
}

describe('external-data (lazy) weights stay lazy, so big models stream', () => {
  for (const mode of ['int8-weights', 'int4', 'int8-dynamic', 'fp16'] as const) {
    it(`${mode}: quantized weights are lazy and equal to the eager result`, async () => {
      const lazy = await quantize(model(true), { mode });
      const eager = await quantize(model(false), { mode });
      const big = (m: typeof lazy.model) => [...m.graph.initializers.values()].filter((v) => v.constValue!.size >= 512);
      const l = big(lazy.model);
      const e = big(eager.model);
      expect(l.length).toBe(3);
      expect(l.every((v) => v.constValue!.isLazy)).toBe(true);
      for (let i = 0; i < 3; i++)
        expect(Array.from(l[i]!.constValue!.data as ArrayLike<number>)).toEqual(Array.from(e[i]!.constValue!.data as ArrayLike<number>));
    });
  }

  it('a model whose weights are all lazy (every external weight replaced) is saved with external data, streamed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-stream-'));
    try {
      const lazyOut = (await quantize(model(true), { mode: 'int8-dynamic' })).model;
      const file = join(dir, 'q.onnx');
      const r = await saveOnnx(lazyOut, file);
      expect(existsSync(`${file}.data`)).toBe(true);
      expect(r.externalBytes).toBeGreaterThanOrEqual(3 * 64 * 64);
      const back = await loadOnnx(file);
      const eager = (await quantize(model(false), { mode: 'int8-dynamic' })).model;
      const q = (m: typeof back) =>
        [...m.graph.initializers.values()].filter((v) => v.constValue!.size >= 512).map((v) => Array.from(v.constValue!.data as Int8Array));
      expect(q(back)).toEqual(q(eager));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
