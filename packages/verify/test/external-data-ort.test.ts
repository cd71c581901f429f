import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOnnx, saveOnnx, writeOnnx } from '@mc/io-onnx';
import { ModelBuilder, Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { describe, expect, test } from 'vitest';
import { assertNumericallyClose, randomFeeds } from '../src/index.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

test('a model saved with external data runs in onnxruntime-node with bit-identical outputs (from the path and re-read)', async () => {
  const b = new ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', [2, 128]);
  const g = seededNormal(3);
  for (let i = 0; i < 4; i++) {
    const w = b.initializer(
      `w${i}`,
      new Tensor(
        'float32',
        [128, 128],
        Float32Array.from({ length: 128 * 128 }, () => g() * 0.1),
      ),
    );
    x = b.node('Relu', [b.node('MatMul', [x, w])]);
  }
  b.output(x, 'y', { dtype: 'float32', shape: [2, 128] });
  const model = b.build();
  const dir = mkdtempSync(join(tmpdir(), 'mc-verify-ext-'));
  const path = join(dir, 'm.onnx');
  const res = await saveOnnx(model, path, { externalData: { threshold: 1024 } });
  expect(res.externalTensors).toBe(4);
  const feeds = randomFeeds(model, 1);
  // onnxruntime reads the .data file itself
  await assertNumericallyClose(model, path, { feeds, bitwise: true });
  // mc reads it lazily, then writes everything inline
  const back = await loadOnnx(path);
  await assertNumericallyClose(model, writeOnnx(back), { feeds, bitwise: true });
});

const python = '/usr/bin/python3';
const hasPythonOnnx = existsSync(python) && spawnSync(python, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
const mnist = sharedPath('models/onnx/image_classifier32.onnx');

const SKIP_1 = skipNote(hasPythonOnnx ? sharedAbsent('models/onnx/image_classifier32.onnx') : 'Debian python3-onnx is not installed');
describe.skipIf(!hasPythonOnnx || !existsSync(mnist))(`external data interop with python3-onnx${SKIP_1}`, () => {
  test('a model python3-onnx saved with external data loads lazily and runs bit-identically; ours passes onnx.checker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mc-verify-pyext-'));
    const theirs = join(dir, 'theirs.onnx');
    const py = spawnSync(
      python,
      [
        '-c',
        [
          'import onnx, sys',
          'm = onnx.load(sys.argv[1])',
          "onnx.save_model(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=True, location='theirs.bin', size_threshold=0)",
        ].join('\n'),
        mnist,
        theirs,
      ],
      { encoding: 'utf8' },
    );
    expect(py.status, py.stderr).toBe(0);
    const m = await loadOnnx(theirs);
    const lazy = [...m.graph.initializers.values()].filter((v) => v.constValue!.isLazy);
    expect(lazy.length).toBeGreaterThan(0);
    const feeds = randomFeeds(m, 5);
    await assertNumericallyClose(new Uint8Array(readFileSync(mnist)), writeOnnx(m), { feeds, bitwise: true });

    const ours = join(dir, 'ours.onnx');
    await saveOnnx(m, ours, { externalData: { threshold: 0 } });
    const check = spawnSync(
      python,
      [
        '-c',
        [
          'import onnx, sys',
          'onnx.checker.check_model(sys.argv[1])',
          'm = onnx.load(sys.argv[1])',
          'print(sum(len(t.raw_data) for t in m.graph.initializer))',
        ].join('\n'),
        ours,
      ],
      { encoding: 'utf8' },
    );
    expect(check.status, check.stderr).toBe(0);
    expect(Number(check.stdout.trim())).toBeGreaterThan(0);
    await assertNumericallyClose(new Uint8Array(readFileSync(mnist)), ours, { feeds, bitwise: true });
  });
});
