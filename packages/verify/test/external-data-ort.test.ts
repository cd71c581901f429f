import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOnnx, saveOnnx, writeOnnx } from '@mc/io-onnx';
import { ModelBuilder, Tensor } from '@mc/ir';
import { seededNormal } from '@mc/ir/testing';
import { expect, test } from 'vitest';
import { assertNumericallyClose, randomFeeds } from '../src/index.js';

test('a model saved with external data runs in onnxruntime-node with bit-identical outputs (from the path and re-read)', async () => {
  const b = new ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', [2, 128]);
  const g = seededNormal(3);
  for (let i = 0; i < 4; i++) {
    const w = b.initializer(`w${i}`, new Tensor('float32', [128, 128], Float32Array.from({ length: 128 * 128 }, () => g() * 0.1)));
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
