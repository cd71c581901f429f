import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import { countOps } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { guardOutput, removeTempFiles } from '../src/temp-files.js';
import { poisonedFile, zeroSizeModel } from './gate-helpers.js';
import { mc, repoRoot, shared, tempDir, sharedAbsent, skipNote } from './helpers.js';

const cntk = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
const mlp = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
const mnistDir = path.join(shared, 'data/mnist');
const qonnx = path.join(shared, 'models/onnx/custom-ops/qonnx_tiny_unet_ch_last.onnx');
const have = existsSync(cntk) && existsSync(path.join(mnistDir, 'train-images-idx3-ubyte.gz'));
const data = ['--dataset', 'mnist', '--data-dir', mnistDir];

const SKIP_1 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!have)(
  `NaN/Inf weights: every transforming command refuses them at load (E_NUMERIC, exit 3); convert copies them with a warning${SKIP_1}`,
  () => {
    it.each([
      ['compress', (m: string, o: string) => ['compress', '--error', '0.3', m, o]],
      ['quantize', (m: string, o: string) => ['quantize', '--mode', 'fp16', m, o]],
      ['prune --channels', (m: string, o: string) => ['prune', '--channels', '0.5', m, o]],
      ['finetune', (m: string, o: string) => ['finetune', m, o, ...data, '--limit', '64']],
      ['distill', (m: string, o: string) => ['distill', '--teacher', mlp, '--student', m, o, ...data, '--limit', '64']],
      ['optimize', (m: string, o: string) => ['optimize', ...data, '--search-samples', '64', m, o]],
    ])('%s', async (_name, argv) => {
      const dir = tempDir();
      const bad = await poisonedFile(mlp, dir);
      const r = await mc(...argv(bad, path.join(dir, 'out.onnx')));
      expect(r.code).toBe(3);
      expect(r.err).toMatch(
        /E_NUMERIC.*weight '[^']+' holds NaN at element 0 \(1 non-finite value\(s\)\) in .*nan-mnist-mlp\.onnx; .*fix or retrain it/,
      );
      expect(readdirSync(dir)).toEqual([path.basename(bad)]);
    });

    it('run', async () => {
      const dir = tempDir();
      const bad = await poisonedFile(mlp, dir);
      writeFileSync(path.join(dir, 'r.yaml'), 'steps:\n  - quantize: {mode: int8-weights}\n');
      const r = await mc('run', path.join(dir, 'r.yaml'), bad, path.join(dir, 'out.onnx'));
      expect(r.code).toBe(3);
      expect(r.err).toMatch(/E_NUMERIC/);
    });

    it('convert: exit 0, the NaN is copied unchanged, one warning line', async () => {
      const dir = tempDir();
      const bad = await poisonedFile(mlp, dir);
      const out = path.join(dir, 'copy.onnx');
      const r = await mc('convert', bad, out);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/^mc: warning: 1 weight\(s\) hold NaN\/Inf .*convert copies them unchanged/);
      expect(r.out).toMatch(/verified \(convert: bitwise equal\)/);
      const w = [...(await loadOnnx(out)).graph.initializers.values()].find((v) =>
        Number.isNaN((v.constValue?.data as Float32Array | undefined)?.[0]),
      );
      expect(w).toBeDefined();
    });
  },
);

describe('zero-size weights pass through every technique untouched', () => {
  it.each(['fp16', 'int8-weights', 'int8-dynamic', 'int4', 'kmeans', 'binary'])(
    'quantize --mode %s: exit 0, the empty MatMul is listed with its reason',
    async (mode) => {
      const dir = tempDir();
      const m = path.join(dir, 'zero.onnx');
      await saveOnnx(zeroSizeModel(), m);
      const r = await mc('quantize', '--mode', mode, '--json', m, path.join(dir, 'q.onnx'));
      expect(r.err.replace(/^mc: warning: nothing changed.*\n/m, '')).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).passedThrough).toContainEqual({
        node: 'empty',
        opType: 'MatMul',
        reason: 'zero-size weight [64x0]: nothing to quantize, passed through untouched',
      });
      expect((await loadOnnx(path.join(dir, 'q.onnx'))).graph.initializers.get('W0')?.constValue?.dims).toEqual([64, 0]);
    },
  );

  it.each([
    ['prune --sparsity 0.2', ['prune', '--sparsity', '0.2']],
    ['prune --channels 0.5', ['prune', '--channels', '0.5']],
    ['compress --error 0.3', ['compress', '--error', '0.3']],
    ['convert', ['convert']],
  ])('%s: exit 0, W0 [64x0] kept', async (_n, argv) => {
    const dir = tempDir();
    const m = path.join(dir, 'zero.onnx');
    await saveOnnx(zeroSizeModel(), m);
    const r = await mc(...argv, m, path.join(dir, 'o.onnx'));
    expect(r.code).toBe(0);
    expect((await loadOnnx(path.join(dir, 'o.onnx'))).graph.initializers.get('W0')?.constValue?.dims).toEqual([64, 0]);
  });
});

const SKIP_2 = skipNote(sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist'));
describe.skipIf(!have)(`nothing to act on: exit 0, one warning line on stderr, the reason per node in the report${SKIP_2}`, () => {
  it('quantize with every layer excluded', async () => {
    const r = await mc(
      'quantize',
      '--mode',
      'int8-weights',
      '--exclude',
      'Conv,MatMul,Gemm',
      '--scale',
      '1',
      '--json',
      cntk,
      path.join(tempDir(), 'q.onnx'),
    );
    expect(r.code).toBe(0);
    expect(r.err).toMatch(
      /^mc: warning: nothing changed: no node was quantized: Conv '[^']+' \(excluded by option\).*the output computes what the input does\n$/,
    );
    expect(JSON.parse(r.out).nothingChanged.nodes.length).toBeGreaterThanOrEqual(3);
  });

  it('compress where no factorisation saves parameters', async () => {
    const r = await mc('compress', '--error', '0.01', '--scale', '1', cntk, path.join(tempDir(), 'c.onnx'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^mc: warning: nothing changed: no layer was factorised: /);
  });

  it('prune --channels on a model whose only group feeds a graph output', async () => {
    const dir = tempDir();
    const m = path.join(dir, 'zero.onnx');
    await saveOnnx(zeroSizeModel(), m);
    const r = await mc('prune', '--channels', '0.5', m, path.join(dir, 'p.onnx'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^mc: warning: nothing changed: nothing to prune: every channel group is left alone/);
  });
});

const SKIP_3 = skipNote(sharedAbsent('models/onnx/custom-ops/qonnx_tiny_unet_ch_last.onnx'));
describe.skipIf(!existsSync(qonnx))(`custom-domain ops (qonnx Quant)${SKIP_3}`, () => {
  it.each(['fp16', 'int8-weights'])(
    'quantize --mode %s: exit 4 naming the op and --no-verify; with --no-verify the ops pass through',
    async (mode) => {
      const dir = tempDir();
      const out = path.join(dir, 'q.onnx');
      const r = await mc('quantize', '--mode', mode, qonnx, out);
      expect(r.code).toBe(4);
      expect(r.err).toMatch(
        /verification needs onnxruntime to run op Quant \(domain qonnx\.custom_op\.general\).*pass --no-verify to write the unverified model/,
      );
      expect(readdirSync(dir)).toEqual([]);
      const ok = await mc('quantize', '--mode', mode, '--no-verify', qonnx, out);
      expect(ok.code).toBe(0);
      const before = countOps(await loadOnnx(qonnx))['qonnx.custom_op.general::Quant'];
      expect(before).toBeGreaterThan(0);
      expect(countOps(await loadOnnx(out))['qonnx.custom_op.general::Quant']).toBe(before);
    },
  );
});

describe('temp files', () => {
  it('removeTempFiles deletes the temp files of guarded outputs of this process only', () => {
    const dir = tempDir();
    const out = path.join(dir, 'm.onnx');
    const mine = [`m.onnx.tmp-${process.pid}-abc123`, `m.onnx.data.tmp-${process.pid}-abc123`, `.m.h5.${process.pid}.x1.tmp`];
    const other = ['m.onnx.tmp-1-abc123', 'keep.onnx'];
    for (const n of [...mine, ...other]) writeFileSync(path.join(dir, n), '');
    const release = guardOutput(out);
    writeFileSync(path.join(dir, '.m.h5.tmp'), '');
    expect(
      removeTempFiles()
        .map((p) => path.basename(p))
        .sort(),
    ).toEqual([...mine].sort());
    release();
    expect(readdirSync(dir).sort()).toEqual([...other, '.m.h5.tmp'].sort());
  });

  const main = path.join(repoRoot, 'apps/cli/dist/main.js');
  const SKIP_4 = skipNote(
    existsSync(main) ? sharedAbsent('models/onnx/mnist-cntk-opset8.onnx', 'data/mnist') : 'apps/cli/dist/main.js is not built (pnpm build)',
  );
  it.skipIf(!existsSync(main) || !have)(
    `SIGTERM while a command runs (built CLI, mc optimize searching): exit 143, nothing left${SKIP_4}`,
    async () => {
      const dir = tempDir();
      // --objective latency times every candidate and runs recovery: about 6 s here, so a signal at 1.5 s lands
      // mid-search. The exit is awaited from the start, so a run that ends before the signal fails instead of hanging.
      const child = spawn(process.execPath, [main, 'optimize', ...data, '--objective', 'latency', mlp, path.join(dir, 'o.onnx')], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      const early = await Promise.race([exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1500))]);
      expect(early, `mc optimize ended before the signal was sent: ${err}`).toBe(false);
      child.kill('SIGTERM');
      const code = await exited;
      expect(code).toBe(143);
      expect(err).toMatch(/mc: interrupted by SIGTERM/);
      expect(readdirSync(dir)).toEqual([]);
    },
  );
});
