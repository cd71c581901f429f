import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatBytes } from '../src/table.js';
import { mc, shared, sharedAbsent, skipNote, tempDir } from './helpers.js';

// mc writes Keras .h5/.keras with float32 weights, so a quantized Keras output cannot be smaller than `mc convert`'s:
// it is refused before any work. TF.js keeps uint8 codes per tensor, so int8-weights to model.json does shrink, and
// the figures are those of the files written (model.json and its shard).
const h5 = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
const mnist = path.join(shared, 'data/mnist');
const why = sharedAbsent('models/keras/moonflower/mnist_convnet.h5', 'data/mnist');
const bytesIn = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);

describe.skipIf(why !== undefined)(`quantized Keras outputs shrink or are refused (Keras MNIST convnet)${skipNote(why)}`, () => {
  it.each([
    ['int8-weights', 'y.h5', [], /float32 weights.*no writer for Keras 3 int8 layers.*write .*y\.onnx/],
    ['int8-weights', 'y.keras', [], /float32 weights.*write .*y\.onnx/],
    ['kmeans', 'web/model.json', [], /TF\.js weight specs.*kmeans weights would be stored dequantized/],
    ['int8-weights', 'web/model.json', ['--per-channel'], /one scale per tensor.*drop --per-channel/],
  ])('--mode %s to %s %j: exit 4 naming the reason and an output that shrinks; nothing written', async (mode, out, extra, reason) => {
    const dir = tempDir();
    const file = path.join(dir, out);
    const r = await mc('quantize', '--mode', mode, ...extra, h5, file);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(reason);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });

  it('--mode int8-weights to model.json: the files written are ≤ 30 % of the float model.json + shard, the report gives their bytes, top-1 within 0.5 pt', async () => {
    const dir = tempDir();
    const float = path.join(dir, 'float');
    const q = path.join(dir, 'q');
    for (const d of [float, q]) mkdirSync(d);
    const c = await mc('convert', h5, path.join(float, 'model.json'));
    expect(c.code).toBe(0);
    // convert reports the bytes of model.json and its shard together.
    expect(c.out).toContain(`(${formatBytes(bytesIn(float))})`);
    const r = await mc('quantize', '--mode', 'int8-weights', h5, path.join(q, 'model.json'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(bytesIn(q) / bytesIn(float)).toBeLessThanOrEqual(0.3);
    expect(r.out).toMatch(new RegExp(`file bytes +\\S+ \\S+ +${formatBytes(bytesIn(q)).replace('.', '\\.')} `));
    const top1 = async (m: string) =>
      JSON.parse((await mc('eval', m, '--dataset', 'mnist', '--data-dir', mnist, '--limit', '1000', '--json')).out).top1 as number;
    expect(Math.abs((await top1(path.join(q, 'model.json'))) - (await top1(h5)))).toBeLessThanOrEqual(0.005);
  });
});

describe.skipIf(why !== undefined)(`mc run with a quantize step into a Keras output${skipNote(why)}`, () => {
  it.each([
    ['out.h5', '{mode: int8-weights}', /float32 weights/],
    ['model.json', '{mode: int8-weights}', /one scale per tensor.*perChannel: false in a recipe/],
  ])('%s with %s: exit 4 before any work, nothing written', async (out, opts, reason) => {
    const dir = tempDir();
    const recipe = path.join(dir, 'r.yaml');
    writeFileSync(recipe, `steps:\n  - quantize: ${opts}\n`);
    const before = readdirSync(dir);
    const r = await mc('run', recipe, h5, path.join(dir, out));
    expect(r.code).toBe(4);
    expect(r.err).toMatch(reason);
    expect(readdirSync(dir)).toEqual(before);
  });
});
