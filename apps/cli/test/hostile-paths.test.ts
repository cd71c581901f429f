import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadOnnx, saveOnnx } from '@mc/io-onnx';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from './helpers.js';

// A model file may name other files (TF.js shards, ONNX external data, HDF5 links and external storage). Every such
// name must stay inside the model's folder after symlinks are followed, and a refused name must not be opened at all.
// The sentinel outside the folder is a FIFO: opening it for reading blocks until a writer comes, so a reader that
// opens it hangs and the child process is killed by the timeout, failing the test.

const main = path.join(repoRoot, 'apps/cli/dist/main.js');
const hasDist = existsSync(main);
const hasMkfifo = spawnSync('mkfifo', ['--version']).status === 0;
const python = '/usr/bin/python3';
const hasH5py = spawnSync(python, ['-c', 'import h5py, numpy'], { stdio: 'ignore' }).status === 0;

function mcProcess(...argv: string[]): { code: number | null; signal: NodeJS.Signals | null; err: string } {
  const r = spawnSync(process.execPath, [main, ...argv], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, signal: r.signal, err: r.stderr };
}

/** A folder with `model/` (the model's folder) and `outside/sentinel` (a FIFO nothing may open). */
function layout(): { model: string; sentinel: string; out: string } {
  const root = tempDir();
  const model = path.join(root, 'model');
  const outside = path.join(root, 'outside');
  mkdirSync(model);
  mkdirSync(outside);
  const sentinel = path.join(outside, 'sentinel');
  execFileSync('mkfifo', [sentinel]);
  return { model, sentinel, out: path.join(root, 'out') };
}

const dense = {
  format: 'layers-model',
  modelTopology: {
    class_name: 'Sequential',
    config: {
      name: 's',
      layers: [
        {
          class_name: 'Dense',
          config: { name: 'd', units: 2, activation: 'linear', use_bias: true, batch_input_shape: [null, 3], dtype: 'float32' },
        },
      ],
    },
    keras_version: '2.15.0',
    backend: 'tensorflow',
  },
};

function tfjsModel(dir: string, shard: string): string {
  const json = {
    ...dense,
    weightsManifest: [
      {
        paths: [shard],
        weights: [
          { name: 'd/kernel', shape: [3, 2], dtype: 'float32' },
          { name: 'd/bias', shape: [2], dtype: 'float32' },
        ],
      },
    ],
  };
  const file = path.join(dir, 'model.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
}

function expectRefused(r: ReturnType<typeof mcProcess>, out: string, pattern: RegExp): void {
  expect(r.signal, 'the reader opened the sentinel and hung').toBeNull();
  expect(r.code).toBe(3);
  expect(r.err).toMatch(pattern);
  expect(existsSync(out)).toBe(false);
}

describe.skipIf(!hasDist || !hasMkfifo)(
  `paths a model names stay inside its folder${hasDist ? '' : ' (skipped: run pnpm build first)'}${hasMkfifo ? '' : ' (skipped: no mkfifo)'}`,
  () => {
    it('a valid TF.js model with its shard next to it reads (control)', () => {
      const { model, out } = layout();
      writeFileSync(path.join(model, 'w.bin'), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer));
      const r = mcProcess('convert', tfjsModel(model, 'w.bin'), `${out}.onnx`);
      expect(r.code).toBe(0);
    });

    it.each([
      ['an absolute path', (s: string) => s, /weightsManifest\[0\]\.paths\[0\].*absolute path/],
      [
        'a path with ..',
        (s: string) => path.join('..', 'outside', path.basename(s)),
        /weightsManifest\[0\]\.paths\[0\].*outside the model's folder/,
      ],
    ])('a TF.js shard named by %s is refused (exit 3), nothing opened', (_what, name, pattern) => {
      const { model, sentinel, out } = layout();
      const r = mcProcess('convert', tfjsModel(model, name(sentinel)), `${out}.onnx`);
      expectRefused(r, `${out}.onnx`, pattern);
    });

    it('a TF.js shard that is a symlink leading outside is refused (exit 3), nothing opened', () => {
      const { model, sentinel, out } = layout();
      symlinkSync(sentinel, path.join(model, 'w.bin'));
      expectRefused(mcProcess('inspect', tfjsModel(model, 'w.bin')), out, /symlink that leads outside/);
    });

    it('a TF.js shard that is a FIFO or device inside the folder is refused: not a regular file', () => {
      const { model, out } = layout();
      execFileSync('mkfifo', [path.join(model, 'w.bin')]);
      expectRefused(mcProcess('inspect', tfjsModel(model, 'w.bin')), out, /not a regular file/);
      const dev = layout();
      symlinkSync('/dev/zero', path.join(dev.model, 'w.bin'));
      expectRefused(mcProcess('inspect', tfjsModel(dev.model, 'w.bin')), dev.out, /leads outside/);
    });

    it('ONNX external data through a symlink leading outside is refused (exit 3), nothing opened, nothing written', async () => {
      const { model, sentinel, out } = layout();
      const file = path.join(model, 'm.onnx');
      await saveOnnx(await loadOnnx(path.join(repoRoot, 'examples/models/mnist-mlp.onnx')), file, { externalData: { threshold: 1024 } });
      const data = readdirSync(model).find((f) => f.endsWith('.data'))!;
      // Replace the data file by a link to the sentinel.
      execFileSync('rm', [path.join(model, data)]);
      symlinkSync(sentinel, path.join(model, data));
      expectRefused(mcProcess('inspect', file), out, /external data location.*symlink that leads outside/);
      expectRefused(mcProcess('convert', file, `${out}.onnx`), `${out}.onnx`, /symlink that leads outside/);
      expect(existsSync(`${out}.onnx.data`)).toBe(false);
      execFileSync('rm', [path.join(model, data)]);
      symlinkSync('/proc/self/environ', path.join(model, data));
      expectRefused(mcProcess('quantize', '--mode', 'fp16', file, `${out}.onnx`), `${out}.onnx`, /leads outside/);
    });

    it.skipIf(!hasH5py)(
      `Keras .h5 external links and external raw storage never reach the host file system${hasH5py ? '' : ' (skipped: Debian python3-h5py absent)'}`,
      () => {
        const { model, sentinel, out } = layout();
        writeFileSync(path.join(model, 'w.bin'), Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]).buffer));
        const h5 = path.join(model, 'model.h5');
        expect(mcProcess('convert', tfjsModel(model, 'w.bin'), h5).code).toBe(0);
        // h5py rewrites the kernel as a dataset stored in the sentinel (external raw storage) and the bias as an
        // external link to another file outside the folder.
        const script = [
          'import h5py, sys',
          'f = h5py.File(sys.argv[1], "r+")',
          'g = f["model_weights/d/d"]',
          'del g["kernel:0"]',
          'g.create_dataset("kernel:0", shape=(3, 2), dtype="f4", external=[(sys.argv[2], 0, 24)])',
          'del g["bias:0"]',
          'g["bias:0"] = h5py.ExternalLink(sys.argv[2], "/b")',
          'f.close()',
        ].join('\n');
        execFileSync(python, ['-c', script, h5, sentinel]);
        const r = mcProcess('convert', h5, `${out}.onnx`);
        expect(r.signal, 'HDF5 opened the sentinel and hung').toBeNull();
        expect([3, 4]).toContain(r.code);
        expect(existsSync(`${out}.onnx`)).toBe(false);
      },
    );
  },
);

describe.skipIf(!hasDist)(`damaged HDF5 that makes libhdf5 loop${hasDist ? '' : ' (skipped: run pnpm build first)'}`, () => {
  // Two fuzzer finds (a flipped byte in a Keras 2 .h5, a .keras whose weights file is damaged): libhdf5 loops inside
  // one wasm call. The read runs in a worker with a time budget, so the command ends with exit 3, and SIGTERM still
  // works meanwhile (the main thread is free).
  it.each(['hdf5-loop.h5', 'hdf5-loop.keras'])('%s: exit 3 naming the damage, within the budget, nothing written', (name) => {
    const out = path.join(tempDir(), 'out.onnx');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [main, 'inspect', path.join(repoRoot, 'apps/cli/test/fixtures', name)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/did not finish in \d+ s; the file is damaged/);
    expect(Date.now() - t0).toBeLessThan(50_000);
    expect(existsSync(out)).toBe(false);
  });
});
