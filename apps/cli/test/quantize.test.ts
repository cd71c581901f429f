import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOnnx } from '@mc/io-onnx';
import { countOps } from '@mc/ir/testing';
import { mc, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';
import { randomGpt } from '../../../packages/verify/test/third-party.js';

const model = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const mnist = path.join(shared, 'data/mnist');

const SKIP_1 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!existsSync(model) || !existsSync(mnist))(`mc quantize (mnist-cntk, MNIST calibration)${SKIP_1}`, () => {
  it('--mode int8-static --method entropy: verified against the float model, QDQ written', async () => {
    const out = path.join(tempDir(), 'q.onnx');
    const r = await mc(
      'quantize',
      '--mode',
      'int8-static',
      '--method',
      'entropy',
      '--dataset',
      'mnist',
      '--data-dir',
      mnist,
      '--scale',
      '1',
      '--calibration-size',
      '32',
      model,
      out,
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/verify accuracy on mnist-test \(1000 samples\): 98\.70% -> 9\d\.\d\d% \(drop -?\d\.\d\d pt, allowed 1\)/);
    expect(countOps(await loadOnnx(out)).QuantizeLinear).toBeGreaterThan(0);
  });

  it('--mode kmeans --bits 4 --json', async () => {
    const out = path.join(tempDir(), 'k.onnx');
    const r = await mc('quantize', '--mode', 'kmeans', '--bits', '4', '--scale', '1', '--json', model, out);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.after.bytes).toBeLessThan(j.before.bytes * 0.3);
  });

  it('--mode fp16 writes the slim file by default; --keep-metadata keeps value_info and names (larger file)', async () => {
    const dir = tempDir();
    const slim = await mc('quantize', '--mode', 'fp16', '--json', model, path.join(dir, 'slim.onnx'));
    const kept = await mc('quantize', '--mode', 'fp16', '--json', '--keep-metadata', model, path.join(dir, 'kept.onnx'));
    expect(slim.code).toBe(0);
    expect(kept.code).toBe(0);
    expect(JSON.parse(slim.out).slim.valueInfo).toBeGreaterThan(0);
    expect(JSON.parse(kept.out).slim).toBeUndefined();
    const size = (f: string) => statSync(path.join(dir, f)).size;
    expect(size('slim.onnx')).toBeLessThan(size('kept.onnx'));
    expect(size('slim.onnx') / statSync(model).size).toBeLessThanOrEqual(0.51);
    expect((await loadOnnx(path.join(dir, 'kept.onnx'))).graph.valueInfo.length).toBeGreaterThan(0);
  });

  it('--mode int8-static --format qoperator --short-names: QLinearConv graph at ≤ 27 % of the float file, verified', async () => {
    const out = path.join(tempDir(), 'qop.onnx');
    const r = await mc(
      'quantize',
      '--mode',
      'int8-static',
      '--format',
      'qoperator',
      '--short-names',
      '--dataset',
      'mnist',
      '--data-dir',
      mnist,
      '--scale',
      '1',
      '--calibration-size',
      '32',
      model,
      out,
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/verified \(int8-static: finite outputs, accuracy drop <= 1 pt\)/);
    expect(countOps(await loadOnnx(out)).QLinearConv).toBe(2);
    expect(statSync(out).size / statSync(model).size).toBeLessThanOrEqual(0.27);
  });

  it('int8-static without data is a usage error; bad bits are an option error; nothing written', async () => {
    const dir = tempDir();
    const r = await mc('quantize', '--mode', 'int8-static', model, path.join(dir, 'x.onnx'));
    expect(r.code).toBe(2);
    const b = await mc('quantize', '--mode', 'kmeans', '--bits', '12', model, path.join(dir, 'y.onnx'));
    expect(b.code).not.toBe(0);
    expect(existsSync(path.join(dir, 'x.onnx')) || existsSync(path.join(dir, 'y.onnx'))).toBe(false);
  });
});

describe.skipIf(randomGpt().why !== undefined)(
  `mc quantize --mode int4 --method gptq on token data${randomGpt().why === undefined ? '' : ` (skipped: ${randomGpt().why})`}`,
  () => {
    it('calibrates on a folder holding input_ids.npy, verifies on synthetic token ids, writes MatMulNBits', async () => {
      const { dir } = randomGpt();
      const out = path.join(tempDir(), 'gpt.int4.onnx');
      const r = await mc(
        'quantize',
        '--mode',
        'int4',
        '--method',
        'gptq',
        '--dataset',
        'npy',
        '--data-dir',
        path.join(dir, 'calib'),
        '--calibration-size',
        '32',
        path.join(dir, 'gpt.onnx'),
        out,
      );
      expect(r.code).toBe(0);
      expect(r.out).toContain('MatMulNBits 4-bit block 32 symmetric gptq');
      expect(r.out).toMatch(/verified \(int4: cosine >= 0\.9\)/);
      const bad = await mc('quantize', '--mode', 'int4', '--method', 'entropy', path.join(dir, 'gpt.onnx'), out);
      expect(bad.code).toBe(2);
      expect(bad.err).toContain('--method is rtn, hqq, gptq, awq');
    });

    it('--mode bnb4: NF4 block 64 MatMulBnb4 by default, --quant-type fp4 --block-size 32 as asked; int4 keeps block 32', async () => {
      const { dir } = randomGpt();
      const out = path.join(tempDir(), 'gpt.bnb4.onnx');
      const r = await mc('quantize', '--mode', 'bnb4', path.join(dir, 'gpt.onnx'), out);
      expect(r.code).toBe(0);
      expect(r.out).toContain('MatMulBnb4 NF4 block 64');
      expect(r.out).toMatch(/passed through: Gather .*embedding table stays float32 in bnb4/);
      expect(r.out).toMatch(/verified \(bnb4: cosine >= 0\.9\)/);
      expect(countOps(await loadOnnx(out))['com.microsoft::MatMulBnb4']).toBeGreaterThan(0);
      const fp4 = await mc('quantize', '--mode', 'bnb4', '--quant-type', 'fp4', '--block-size', '32', path.join(dir, 'gpt.onnx'), out);
      expect(fp4.code).toBe(0);
      expect(fp4.out).toContain('MatMulBnb4 FP4 block 32');
      const int4 = await mc('quantize', '--mode', 'int4', path.join(dir, 'gpt.onnx'), path.join(tempDir(), 'gpt.int4.onnx'));
      expect(int4.out).toContain('MatMulNBits 4-bit block 32 symmetric rtn');
    });
  },
);

const SKIP_2 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!existsSync(model) || !existsSync(mnist))(`mc quantize --mode fp16 with calibration${SKIP_2}`, () => {
  it('--dataset feeds the float16 range guard and --max-output-error; without data the bound is a usage error', async () => {
    const out = path.join(tempDir(), 'h.onnx');
    const r = await mc(
      'quantize',
      '--mode',
      'fp16',
      '--dataset',
      'mnist',
      '--data-dir',
      mnist,
      '--scale',
      '1',
      '--calibration-size',
      '32',
      '--max-output-error',
      '0.05',
      '--json',
      model,
      out,
    );
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).mode).toBe('fp16');
    const bad = await mc('quantize', '--mode', 'fp16', '--max-output-error', '0.05', model, path.join(path.dirname(out), 'h2.onnx'));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--max-output-error needs sample inputs');
  });
});
