import path from 'node:path';
import { type Model, ModelBuilder, Tensor, weightOf } from '@mc/ir';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import type { CliIO } from '../src/flags.js';

/**
 * A copy of `model` with NaN at element 0 of its first float layer weight (or, when every weight is quantized, of the
 * first float initializer: a scale or a bias): the fault a broken technique would produce.
 */
export function poisoned(model: Model): Model {
  const m = model.clone();
  const layer = m.graph.nodes
    .map((n) => weightOf(n))
    .find((w) => w?.tensor !== undefined && w.tensor.size > 0 && (w.tensor.dtype === 'float32' || w.tensor.dtype === 'float16'));
  const v =
    layer?.value ??
    [...m.graph.initializers.values()].find(
      (x) =>
        x.constValue !== undefined &&
        x.constValue.size > 0 &&
        (x.constValue.dtype === 'float32' || x.constValue.dtype === 'float16') &&
        x.uses().length > 0,
    );
  const t = v?.constValue;
  if (v === undefined || t === undefined) throw new Error('no float weight to poison');
  if (t.dtype === 'float16') {
    const d = Uint16Array.from(t.data as Uint16Array);
    d[0] = 0x7e00; // float16 NaN
    v.constValue = new Tensor('float16', t.dims, d);
  } else {
    const d = Float32Array.from(t.data as Float32Array);
    d[0] = NaN;
    v.constValue = new Tensor('float32', t.dims, d);
  }
  return m;
}

/** Writes a NaN-weight copy of an ONNX file into `dir` and returns its path. */
export async function poisonedFile(file: string, dir: string): Promise<string> {
  const out = path.join(dir, `nan-${path.basename(file)}`);
  await saveOnnx(poisoned(await loadOnnx(file)), out);
  return out;
}

/** x[N, 64] → MatMul W[64, 32] (13 levels in [−1, 1]) and a MatMul with a zero-size weight [64, 0], concatenated. */
export function zeroSizeModel(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 64]);
  const w = b.initializer(
    'W',
    new Tensor(
      'float32',
      [64, 32],
      Float32Array.from({ length: 64 * 32 }, (_, i) => (((i * 31) % 13) - 6) / 6),
    ),
  );
  const w0 = b.initializer('W0', new Tensor('float32', [64, 0], new Float32Array(0)));
  b.output(
    b.node('Concat', [b.node('MatMul', [x, w], {}, { name: 'dense' }), b.node('MatMul', [x, w0], {}, { name: 'empty' })], { axis: 1 }),
    'y',
  );
  return b.build();
}

/** A CliIO that collects stderr. */
export function quietIO(): CliIO & { errText: () => string } {
  let err = '';
  return { out: () => undefined, err: (t) => void (err += `${t}\n`), isTTY: false, quiet: true, errText: () => err };
}
