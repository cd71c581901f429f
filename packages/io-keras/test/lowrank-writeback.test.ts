import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { factorize } from '@mc/lowrank';
import { afterAll, describe, expect, test } from 'vitest';
import { readKeras, saveKeras } from '../src/index.js';
import { KERAS_DIR, relErr, runOrt, seeded, SKIP_SHARED, SHARED_NOTE } from './helpers.js';
import { originalConfig, tfjsModel, tfjsRun } from './tfjs-reference.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-lr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(SKIP_SHARED !== false)(`@mc/lowrank output written back to Keras with standard layers only${SHARED_NOTE}`, () => {
  for (const [file, dims] of [
    ['mlperf-tiny/resnet8_cifar10.h5', [2, 32, 32, 3]],
    ['tensorspace/lenet_mnist.h5', [2, 28, 28]],
  ] as const) {
    test(`${file}: factorize({rank: 4}) → h5 → tfjs-layers = onnxruntime on the factorised IR (≤ 1e-5)`, async () => {
      const a = await readKeras(`${KERAS_DIR}${file}`);
      const { model } = await factorize(a.model, { rank: 4 });
      const out = join(dir, file.replace(/\W/g, '_') + '.h5');
      const res = await saveKeras(model, out);
      const classes = new Set(res.layers.map((l) => l.className));
      expect([...classes].every((c) => !c.startsWith('mc'))).toBe(true);
      expect(res.layers.some((l) => /_factor/.test(l.name))).toBe(true);
      const b = await readKeras(out);
      const x = seeded(
        dims.reduce((p, q) => p * q, 1),
        4,
        0,
        1,
      );
      const input = model.graph.inputs[0]!.name;
      const ref = (await runOrt(model, { [input]: { data: x, dims: [...dims] } }))[model.graph.outputs[0]!.name]!.data;
      const t = tfjsRun(await tfjsModel(await originalConfig(out), b.keras), x, [...dims])[0]!;
      expect(relErr(t, ref)).toBeLessThanOrEqual(1e-5);
    });
  }
});
