/**
 * Zero-size weights: nothing to store smaller, and onnxruntime rejects (De)QuantizeLinear on empty tensors, so every
 * weight technique passes them through untouched with a reason.
 */
import { describe, expect, it } from 'vitest';
import { ModelBuilder, Tensor } from '@mc/ir';
import { quantize, type QuantizeOptions } from '@mc/quantize';
import { runModel } from '@mc/verify';

/** x[1,4] → MatMul(w[4,3]) → y1; x → MatMul(empty[4,0]) → y2 (a [1,0] output). */
function netWithEmptyWeight() {
  const b = new ModelBuilder({ opset: 17, irVersion: 8 });
  const x = b.input('x', 'float32', [1, 4]);
  const w = b.initializer(
    'w',
    new Tensor(
      'float32',
      [4, 3],
      Float32Array.from({ length: 12 }, (_, i) => Math.sin(i + 1)),
    ),
  );
  const empty = b.initializer('empty', new Tensor('float32', [4, 0], new Float32Array(0)));
  b.output(b.node('MatMul', [x, w], {}, { name: 'full' }), 'y1');
  b.output(b.node('MatMul', [x, empty], {}, { name: 'zero' }), 'y2');
  return b.build();
}

const modes: QuantizeOptions[] = [{ mode: 'int8-weights' }, { mode: 'int4', blockSize: 32 }, { mode: 'kmeans', bits: 4 }];

describe('zero-size weights are passed through', () => {
  it.each(modes.map((m) => [m.mode, m] as const))(
    '%s: the empty weight is untouched, the model runs in onnxruntime-node',
    async (_name, opts) => {
      const { model, report } = await quantize(netWithEmptyWeight(), opts);
      const pass = report.passedThrough.find((p) => p.node === 'zero');
      expect(pass?.reason).toMatch(/zero-size weight \[4x0\]/);
      expect(model.graph.initializers.get('empty')?.constValue?.dims).toEqual([4, 0]);
      const x = new Tensor('float32', [1, 4], new Float32Array([1, 2, 3, 4]));
      const out = await runModel(model, { x });
      expect(out.y2!.dims).toEqual([1, 0]);
      expect(out.y1!.dims).toEqual([1, 3]);
    },
  );
});
