#!/usr/bin/env node
// @mc/io-keras: import of a ~100 MB Keras 2 HDF5 model (readKeras: h5wasm read + lowering into the IR) against
// Debian python3-h5py reading the same datasets, side by side in one run, medians of RUNS. The file is generated with
// h5py in the Keras 2 layout (model_config, model_weights/<layer>/<layer>/kernel:0, weight_names); without h5py it is
// the bench is skipped with a note. Writes bench/out/io-keras.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/io-keras'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b packages/io-keras failed');
const keras = await import(path.join(root, 'packages/io-keras/dist/index.js'));
const h5wasm = await import(path.join(root, 'packages/io-keras/node_modules/h5wasm/dist/node/hdf5_hl.js'));
await h5wasm.ready;

const RUNS = 7;
const LAYERS = 24;
const UNITS = 1024;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const work = path.join(os.tmpdir(), `mc-bench-io-keras-${process.pid}`);
mkdirSync(work, { recursive: true });
const file = path.join(work, 'dense_100mb.h5');
const PY = '/usr/bin/python3';

const gen = `
import h5py, json, numpy as np, sys
L, U, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, U], "dtype": "float32", "sparse": False, "name": "input_1"}, "name": "input_1", "inbound_nodes": []}]
prev = "input_1"
for i in range(L):
    n = f"dense_{i}"
    layers.append({"class_name": "Dense", "name": n, "config": {"name": n, "trainable": True, "units": U, "activation": "relu", "use_bias": True}, "inbound_nodes": [[[prev, 0, 0, {}]]]})
    prev = n
cfg = {"class_name": "Model", "config": {"name": "dense_stack", "layers": layers, "input_layers": [["input_1", 0, 0]], "output_layers": [[prev, 0, 0]]}}
rng = np.random.default_rng(0)
with h5py.File(path, "w") as f:
    f.attrs["keras_version"] = "2.4.0"; f.attrs["backend"] = "tensorflow"; f.attrs["model_config"] = json.dumps(cfg)
    mw = f.create_group("model_weights")
    mw.attrs["layer_names"] = np.array([l["name"].encode() for l in layers])
    mw.create_group("input_1").attrs["weight_names"] = np.array([], dtype=np.float64)
    for i in range(L):
        n = f"dense_{i}"; g = mw.create_group(n)
        g.attrs["weight_names"] = np.array([f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()])
        g.create_dataset(f"{n}/kernel:0", data=(rng.standard_normal((U, U)) * 0.03).astype(np.float32))
        g.create_dataset(f"{n}/bias:0", data=np.zeros(U, np.float32))
`;
const readPy = `
import h5py, time, sys, json
path, runs = sys.argv[1], int(sys.argv[2])
ts = []
for r in range(runs):
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        cfg = json.loads(f.attrs["model_config"])
        mw = f["model_weights"]
        arrays = []
        for n in [x.decode() for x in mw.attrs["layer_names"]]:
            g = mw[n]
            for w in [x.decode() if hasattr(x, "decode") else x for x in g.attrs["weight_names"]]:
                arrays.append(g[w][()])
    ts.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"ms": ts, "n": len(arrays), "bytes": sum(a.nbytes for a in arrays)}))
`;

const hasH5py = spawnSync(PY, ['-c', 'import h5py, numpy'], { stdio: 'ignore' }).status === 0;
let generator;
if (hasH5py) {
  const g = spawnSync(PY, ['-c', gen, String(LAYERS), String(UNITS), file], { encoding: 'utf8' });
  if (g.status !== 0) throw new Error(`h5py generator failed: ${g.stderr}`);
  generator = 'h5py (Keras 2 layout)';
} else {
  mkdirSync(path.join(here, 'out'), { recursive: true });
  writeFileSync(path.join(here, 'out', 'io-keras.md'), '## io-keras: Keras h5 import\n\nSkipped: Debian python3-h5py (used to write the Keras 2 file and as the baseline) is not installed.\n');
  process.exit(0);
}
const size = statSync(file).size;

// Ours: full import (open, read every dataset, normalize, lower to IR with HWIO/[in,out] weights).
const t0 = performance.now();
await keras.readKeras(file); // warm: includes the one-time h5wasm module load
const firstMs = performance.now() - t0;
const ours = [];
const raw = [];
let nodes = 0;
for (let r = 0; r < RUNS; r++) {
  globalThis.gc?.();
  let t = performance.now();
  const res = await keras.readKeras(file);
  ours.push(performance.now() - t);
  nodes = res.model.graph.nodes.length;
  globalThis.gc?.();
  // h5wasm alone reading the same datasets: the share of the import that is HDF5 access.
  t = performance.now();
  const f = new h5wasm.File(file, 'r');
  const mw = f.get('model_weights');
  for (const n of mw.keys()) {
    const g = mw.get(n);
    for (const k of g.keys()) {
      const inner = g.get(k);
      if (inner instanceof h5wasm.Group) for (const d of inner.keys()) void inner.get(d).value;
    }
  }
  f.close();
  raw.push(performance.now() - t);
}
let base;
if (hasH5py) {
  const p = spawnSync(PY, ['-c', readPy, file, String(RUNS)], { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`h5py reader failed: ${p.stderr}`);
  base = JSON.parse(p.stdout);
}
rmSync(work, { recursive: true, force: true });

const o = median(ours);
const lines = [
  '## io-keras: Keras h5 import',
  '',
  `A Keras 2 HDF5 file of ${(size / 2 ** 20).toFixed(1)} MiB (${LAYERS} Dense ${UNITS}×${UNITS} layers, written by ${generator}), medians of ${RUNS} runs in one process each, same machine, same run.`,
  '',
  '| | median | runs |',
  '|---|---|---|',
  `| mc \`readKeras\` (h5wasm read + IR lowering, ${nodes} nodes) | **${fmt(o)}** | ${ours.map(fmt).join(', ')} |`,
  `| h5wasm alone: open + read the same datasets (no IR) | ${fmt(median(raw))} | ${raw.map(fmt).join(', ')} |`,
];
if (base !== undefined) {
  const b = median(base.ms);
  lines.push(`| h5py: open + read the same ${base.n} datasets (${(base.bytes / 2 ** 20).toFixed(1)} MiB) into numpy | ${fmt(b)} | ${base.ms.map(fmt).join(', ')} |`);
  lines.push('', `Ratio mc / h5py: **${(o / b).toFixed(2)}×**. First import in a fresh process (one-time h5wasm module load included): ${fmt(firstMs)}.`);
} else {
  lines.push('', 'h5py baseline skipped: Debian python3-h5py is not installed.');
}
lines.push('');
mkdirSync(path.join(here, 'out'), { recursive: true });
writeFileSync(path.join(here, 'out', 'io-keras.md'), lines.join('\n'));
process.stdout.write(`io-keras: ${fmt(o)} vs h5py ${base ? fmt(median(base.ms)) : 'n/a'}\n`);
