import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, tempDir } from './helpers.js';

// Keras in, quantized ONNX out: the file-bytes bounds of a Keras model. They live here and not in @mc/quantize's
// tests, which must not depend on @mc/io-keras (io-keras' own tests depend on @mc/quantize).
const h5 = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
const mnist = path.join(shared, 'data/mnist');
const gone = [h5, mnist].filter((f) => !existsSync(f));
const havePyOnnx = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;

/** Runs `f` on first call and hands every caller the same promise (a test alone, or after the others, works). */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

const dir = tempDir();
/** mc writes `file` from the .h5 with `args`; the CLI's result. */
const write = (file: string, ...args: string[]) => once(async () => ({ file, ...(await mc(...args, h5, path.join(dir, file))) }));
const float = write('float.onnx', 'convert');
const cases: [string, () => Promise<{ file: string; code: number; err: string }>, number][] = [
  ['fp16', write('fp16.onnx', 'quantize', '--mode', 'fp16'), 0.51],
  [
    'int8-static',
    write('int8.onnx', 'quantize', '--mode', 'int8-static', '--dataset', 'mnist', '--data-dir', mnist, '--calibration-size', '64'),
    0.27,
  ],
];
const size = (f: string) => statSync(path.join(dir, f)).size;

describe.skipIf(gone.length > 0)(
  `mc quantize of the Keras MNIST convnet (.h5 → .onnx)${gone.length > 0 ? ` (skipped: ${gone.join(', ')} missing)` : ''}`,
  () => {
    for (const [mode, run, bound] of cases) {
      it(`${mode}: ≤ ${bound * 100} % of the float ONNX file mc convert writes`, async () => {
        const f = await float();
        expect(f.code).toBe(0);
        const r = await run();
        expect(r.err).toBe('');
        expect(r.code).toBe(0);
        expect(size(r.file) / size(f.file)).toBeLessThanOrEqual(bound);
      });
    }
    it.skipIf(!havePyOnnx)(
      `onnx.checker accepts both quantized files${havePyOnnx ? '' : ' (skipped: Debian python3-onnx is not installed)'}`,
      async () => {
        for (const [mode, run] of cases) {
          const r = await run();
          expect(r.code, mode).toBe(0);
          const c = spawnSync(
            '/usr/bin/python3',
            ['-c', 'import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]))', path.join(dir, r.file)],
            { encoding: 'utf8' },
          );
          expect(c.status === 0 ? '' : c.stderr.trim().split('\n').pop(), mode).toBe('');
        }
      },
    );
  },
);
