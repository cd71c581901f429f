import { describe, expect, it } from 'vitest';
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
});
