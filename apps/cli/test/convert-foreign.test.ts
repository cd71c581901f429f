import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mc, shared, sharedAbsent, skipNote, tempDir } from './helpers.js';

// ONNX → Keras for models from other exporters: written as standard layers and verified within float rounding
// (the `relayout` row of GATE_THRESHOLDS), or refused naming the node that has no Keras layer.
const cntk = 'models/onnx/mnist-cntk-opset8.onnx';
const tf2onnx = 'models/onnx/image_classifier32.onnx';

describe('mc convert of ONNX from other exporters to Keras', () => {
  it.skipIf(sharedAbsent(cntk) !== undefined)(
    `CNTK MNIST → .h5, .keras, model.json: exit 0, verified as relayout${skipNote(sharedAbsent(cntk))}`,
    async () => {
      const dir = tempDir();
      for (const out of ['m.h5', 'm.keras', 'model.json']) {
        const r = await mc('convert', path.join(shared, cntk), path.join(dir, out));
        expect(r.err, out).toBe('');
        expect(r.code, out).toBe(0);
        expect(r.out, out).toMatch(/verified \(relayout: cosine >= 0\.99999\)/);
        expect(existsSync(path.join(dir, out))).toBe(true);
      }
    },
  );

  it.skipIf(sharedAbsent(tf2onnx) !== undefined)(
    `image_classifier32 (Shape → Gather → ... reshape): exit 4 naming the first node without a Keras layer${skipNote(sharedAbsent(tf2onnx))}`,
    async () => {
      const dir = tempDir();
      const r = await mc('convert', path.join(shared, tf2onnx), path.join(dir, 'x.h5'));
      expect(r.code).toBe(4);
      expect(r.err).toMatch(/node 'Shape_0' \(Shape\) cannot be written as a Keras layer: .*export it as ONNX instead/);
      expect(existsSync(path.join(dir, 'x.h5'))).toBe(false);
    },
  );
});
