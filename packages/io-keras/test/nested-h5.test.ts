import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readKeras } from '../src/index.js';
import { relErr, runOrt } from './helpers.js';

const PY = '/usr/bin/python3';
const HAVE_H5PY = (() => {
  try {
    execFileSync(PY, ['-c', 'import h5py, numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const dir = mkdtempSync(join(tmpdir(), 'mc-io-keras-nested-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A tf.keras 2.x file with a Sequential nested in a Functional model: the nested model's weights live in one group
// (`model_weights/inner/dense_1/kernel:0`, weight_names `dense_1/kernel:0`, ...). The reference output is numpy.
const GEN = `
import h5py, json, numpy as np, sys
path = sys.argv[1]
rng = np.random.default_rng(3)
W = {n: (rng.standard_normal(s) * 0.5).astype(np.float32) for n, s in [("pre/kernel", (4, 5)), ("pre/bias", (5,)), ("dense_1/kernel", (5, 6)), ("dense_1/bias", (6,)), ("dense_2/kernel", (6, 3)), ("dense_2/bias", (3,))]}
dense = lambda n, u, a: {"class_name": "Dense", "config": {"name": n, "trainable": True, "units": u, "activation": a, "use_bias": True}}
inner = {"class_name": "Sequential", "name": "inner", "config": {"name": "inner", "layers": [
  {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5], "dtype": "float32", "name": "inner_input"}},
  dense("dense_1", 6, "tanh"), dense("dense_2", 3, "linear")]}, "inbound_nodes": [[["pre", 0, 0, {}]]]}
layers = [{"class_name": "InputLayer", "name": "input_1", "config": {"batch_input_shape": [None, 4], "dtype": "float32", "name": "input_1"}, "inbound_nodes": []},
  dict(dense("pre", 5, "relu"), name="pre", inbound_nodes=[[["input_1", 0, 0, {}]]]), inner,
  {"class_name": "Activation", "name": "out", "config": {"name": "out", "activation": "softmax"}, "inbound_nodes": [[["inner", 1, 0, {}]]]}]
cfg = {"class_name": "Functional", "config": {"name": "outer", "layers": layers, "input_layers": [["input_1", 0, 0]], "output_layers": [["out", 0, 0]]}}
with h5py.File(path, "w") as f:
    f.attrs["keras_version"] = "2.4.0"; f.attrs["backend"] = "tensorflow"; f.attrs["model_config"] = json.dumps(cfg)
    mw = f.create_group("model_weights"); mw.attrs["layer_names"] = np.array([b"input_1", b"pre", b"inner", b"out"])
    for n, ws in [("input_1", []), ("pre", ["pre/kernel", "pre/bias"]), ("inner", ["dense_1/kernel", "dense_1/bias", "dense_2/kernel", "dense_2/bias"]), ("out", [])]:
        g = mw.create_group(n); g.attrs["weight_names"] = np.array([(w + ":0").encode() for w in ws]) if ws else np.array([], dtype=np.float64)
        for w in ws: g.create_dataset(w + ":0", data=W[w])
x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
h = np.maximum(x @ W["pre/kernel"] + W["pre/bias"], 0)
h = np.tanh(h @ W["dense_1/kernel"] + W["dense_1/bias"]) @ W["dense_2/kernel"] + W["dense_2/bias"]
e = np.exp(h - h.max(1, keepdims=True)); y = e / e.sum(1, keepdims=True)
print(json.dumps({"x": x.ravel().tolist(), "y": y.ravel().tolist()}))
`;

describe.skipIf(!HAVE_H5PY)('nested models', () => {
  test('tf.keras h5 with a Sequential nested in a Functional model: inlined, weights found by layer, = numpy (≤ 1e-5)', async () => {
    const file = join(dir, 'nested.h5');
    const ref = JSON.parse(execFileSync(PY, ['-c', GEN, file], { encoding: 'utf8' })) as { x: number[]; y: number[] };
    const r = await readKeras(file);
    expect(r.keras.layers.map((l) => l.name)).toEqual(['input_1', 'pre', 'dense_1', 'dense_2', 'out']);
    const out = await runOrt(r.model, { input_1: { data: Float32Array.from(ref.x), dims: [2, 4] } });
    expect(relErr(out.out!.data, ref.y)).toBeLessThanOrEqual(1e-5);
    expect(readFileSync(file).length).toBeGreaterThan(0);
  });
});
if (!HAVE_H5PY) test.skip('nested models (skipped: Debian python3-h5py is not installed)', () => {});
