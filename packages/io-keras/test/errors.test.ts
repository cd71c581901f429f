import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McError, ModelBuilder } from '@mc/ir';
import { afterAll, describe, expect, test } from 'vitest';
import { readKeras, saveKeras } from '../src/index.js';
import { KERAS_DIR, SKIP_SHARED, SHARED_NOTE } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-err-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown>): Promise<McError> {
  try {
    await p;
  } catch (e) {
    if (McError.is(e)) return e;
    throw e;
  }
  throw new Error('expected an McError');
}

describe.skipIf(SKIP_SHARED !== false)(`bad input gives coded errors naming the file and the layer${SHARED_NOTE}`, () => {
  test('truncated h5 → E_TRUNCATED naming the file', async () => {
    const p = join(dir, 'truncated.h5');
    writeFileSync(p, readFileSync(`${KERAS_DIR}tensorspace/lenet_mnist.h5`).subarray(0, 20000));
    const e = await codeOf(readKeras(p));
    expect(e.code).toBe('E_TRUNCATED');
    expect(e.context.file).toBe(p);
    expect(e.message).toContain(p);
  });

  test('corrupt h5 (garbage after the signature) → E_FORMAT or E_TRUNCATED naming the file', async () => {
    const p = join(dir, 'corrupt.h5');
    const b = readFileSync(`${KERAS_DIR}tensorspace/lenet_mnist.h5`);
    for (let i = 8; i < 4096; i++) b[i] = (i * 131) & 0xff;
    writeFileSync(p, b);
    const e = await codeOf(readKeras(p));
    expect(['E_FORMAT', 'E_TRUNCATED']).toContain(e.code);
    expect(e.context.file).toBe(p);
  });

  test('truncated .keras zip → E_TRUNCATED naming the file', async () => {
    const p = join(dir, 'truncated.keras');
    const b = readFileSync(`${KERAS_DIR}moonflower/mnist_convnet.keras`);
    writeFileSync(p, b.subarray(0, Math.floor(b.length / 2)));
    const e = await codeOf(readKeras(p));
    expect(['E_TRUNCATED', 'E_FORMAT']).toContain(e.code);
    expect(e.message).toContain(p);
  });

  test('corrupt .keras zip (damaged central directory) → coded error naming the file', async () => {
    const p = join(dir, 'corrupt.keras');
    const b = readFileSync(`${KERAS_DIR}moonflower/mnist_convnet.keras`);
    const cd = b.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    for (let i = cd; i < cd + 40; i++) b[i] = 0x7a;
    writeFileSync(p, b);
    const e = await codeOf(readKeras(p));
    expect(['E_TRUNCATED', 'E_FORMAT']).toContain(e.code);
    expect(e.context.file).toBe(p);
  });

  test('weights-only h5 without an architecture → E_FORMAT telling to pass the JSON', async () => {
    const p = `${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5`;
    const e = await codeOf(readKeras(p));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toMatch(/weights only.*architecture JSON/);
    expect(e.context.file).toBe(p);
  });

  test('unknown activation → E_UNSUPPORTED naming the layer and the file', async () => {
    const arch = JSON.parse(readFileSync(`${KERAS_DIR}hls4ml/KERAS_3layer.json`, 'utf8'));
    arch.config.layers[2].config.activation = 'swishy';
    const p = join(dir, 'bad_activation.json');
    writeFileSync(p, JSON.stringify(arch));
    const e = await codeOf(readKeras({ architecture: p, weights: `${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5` }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.context.layer).toBe('fc2_relu');
    expect(e.message).toContain("'swishy'");
    expect(e.message).toContain(p);
  });

  test('mismatched weight shapes → E_FORMAT naming the layer and both shapes', async () => {
    const arch = JSON.parse(readFileSync(`${KERAS_DIR}hls4ml/KERAS_3layer.json`, 'utf8'));
    arch.config.layers[1].config.units = 65;
    const p = join(dir, 'bad_units.json');
    writeFileSync(p, JSON.stringify(arch));
    const e = await codeOf(readKeras({ architecture: p, weights: `${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5` }));
    expect(e.code).toBe('E_FORMAT');
    expect(e.context.layer).toBe('fc1_relu');
    expect(e.message).toContain('[16, 64]');
    expect(e.message).toContain('[16, 65]');
  });

  test('missing file → E_IO; not a Keras file → E_FORMAT', async () => {
    expect((await codeOf(readKeras(join(dir, 'nope.h5')))).code).toBe('E_IO');
    const p = join(dir, 'text.h5');
    writeFileSync(p, 'hello, not hdf5');
    expect((await codeOf(readKeras(p))).code).toBe('E_FORMAT');
  });
});

describe('writing never leaves partial files', () => {
  test('a model with ops no Keras layer expresses → E_UNSUPPORTED; no output, no temp file', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 4]);
    // Sin: no Keras layer (a lone Relu is written now, as an Activation layer of a foreign model).
    b.output(b.node('Sin', [x]), 'y');
    const out = join(dir, 'never.h5');
    const e = await codeOf(saveKeras(b.build(), out));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.context.node).toBeDefined();
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('never'))).toEqual([]);
  });

  test.skipIf(SKIP_SHARED !== false)(
    `saving over an existing file replaces it atomically; the source file is untouched${SHARED_NOTE}`,
    async () => {
      const src = join(dir, 'src.h5');
      copyFileSync(`${KERAS_DIR}hls4ml/KERAS_3layer_weights.h5`, src);
      const before = readFileSync(src);
      const { model } = await readKeras({ architecture: `${KERAS_DIR}hls4ml/KERAS_3layer.json`, weights: src });
      const out = join(dir, 'out.h5');
      writeFileSync(out, 'old');
      await saveKeras(model, out);
      expect(readFileSync(out).subarray(0, 4).toString('latin1')).toBe('\x89HDF');
      expect(readFileSync(src)).toEqual(before);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    },
  );
});
