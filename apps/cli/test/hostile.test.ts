/**
 * Hostile inputs: crafted and fuzzed model files must end in a coded error (exit 2/3/4/5) or succeed, never in exit 70
 * ("a bug in mc"), a non-McError exception or a hang. The fuzzer (bench/fuzz) is seeded: a case number reproduces a
 * case exactly (`node bench/fuzz/run.mjs --case N`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeCase, makeCase, runCase } from '../../../bench/fuzz/cases.mjs';
import { onnxModelType } from '../../../bench/fuzz/mutate.mjs';
import { makeSeeds } from '../../../bench/fuzz/seeds.mjs';
import { runCli } from '../src/cli.js';
import { mc, repoRoot, shared, tempDir } from './helpers.js';

type Seed = { name: string; format: string; files: Record<string, Uint8Array>; main: string };
const quiet = { out: () => {}, err: () => {}, isTTY: false, quiet: true };
const dir = tempDir();
let seeds: Seed[] = [];

beforeAll(async () => {
  seeds = (await makeSeeds(path.join(dir, 'seeds'), (argv: string[]) => runCli(argv, quiet), { shared: existsSync(shared) })) as Seed[];
});

/** Writes a seed's files with `edit` applied to its parsed model.json; returns the model.json path. */
function tfjsWith(name: string, edit: (json: any) => void): string {
  const seed = seeds.find((s) => s.name === 'tiny-dense.tfjs')!;
  const sub = path.join(dir, name);
  mkdirSync(sub, { recursive: true });
  for (const [f, b] of Object.entries(seed.files)) writeFileSync(path.join(sub, f), b);
  const json = JSON.parse(new TextDecoder().decode(seed.files['model.json']));
  edit(json);
  writeFileSync(path.join(sub, 'model.json'), JSON.stringify(json));
  return path.join(sub, 'model.json');
}

const layers = (j: any) => j.modelTopology.model_config.config.layers;
const weights = (j: any) => j.weightsManifest[0].weights;

/** Field edits that ended in exit 70 before the readers validated their JSON, with the JSON path each names. */
const TFJS_EDITS: [string, (j: any) => void, string][] = [
  ['shape 1.5', (j) => (weights(j)[0].shape[1] = 1.5), 'weightsManifest[0].weights[0].shape[1]'],
  ['shape true', (j) => (weights(j)[1].shape[0] = true), 'weightsManifest[0].weights[1].shape[0]'],
  ['shape null', (j) => (weights(j)[2].shape[0] = null), 'weightsManifest[0].weights[2].shape[0]'],
  ['shape "str"', (j) => (weights(j)[3].shape[0] = 'str'), 'weightsManifest[0].weights[3].shape[0]'],
  ['shape nested', (j) => (weights(j)[0].shape = [[4], 3]), 'weightsManifest[0].weights[0].shape[0]'],
  ['shape negative', (j) => (weights(j)[0].shape[0] = -4), 'weightsManifest[0].weights[0].shape[0]'],
  ['shape not an array', (j) => (weights(j)[0].shape = 12), 'weightsManifest[0].weights[0].shape'],
  ['weight name a number', (j) => (weights(j)[0].name = 7), 'weightsManifest[0].weights[0].name'],
  ['dtype unknown', (j) => (weights(j)[0].dtype = 'float64'), 'weightsManifest[0].weights[0].dtype'],
  ['quantization dtype', (j) => (weights(j)[0].quantization = { dtype: 'int8' }), 'weightsManifest[0].weights[0].quantization.dtype'],
  [
    'quantization scale',
    (j) => (weights(j)[0].quantization = { dtype: 'uint8', scale: 'big' }),
    'weightsManifest[0].weights[0].quantization.scale',
  ],
  ['paths entry not a string', (j) => (j.weightsManifest[0].paths = [5]), 'weightsManifest[0].paths[0]'],
  ['paths not an array', (j) => (j.weightsManifest[0].paths = 'group1-shard1of1.bin'), 'weightsManifest[0].paths'],
  ['weightsManifest an object', (j) => (j.weightsManifest = {}), 'weightsManifest'],
  ['class_name a number', (j) => (layers(j)[1].class_name = 5), 'modelTopology.model_config.config.layers[1].class_name'],
  ['class_name an array', (j) => (layers(j)[0].class_name = ['Dense']), 'modelTopology.model_config.config.layers[0].class_name'],
  ['layer config an array', (j) => (layers(j)[1].config = []), 'modelTopology.model_config.config.layers[1].config'],
  ['layers not an array', (j) => (j.modelTopology.model_config.config.layers = { a: 1 }), 'modelTopology.model_config.config.layers'],
  [
    'batch_input_shape 1.5',
    (j) => (layers(j)[0].config.batch_input_shape = [null, 1.5]),
    'modelTopology.model_config.config.layers[0].config.batch_input_shape[1]',
  ],
  [
    'inbound_nodes junk',
    (j) => (layers(j)[1].inbound_nodes = [[['d1', 'zero', 0]]]),
    'modelTopology.model_config.config.layers[1].inbound_nodes[0][0][1]',
  ],
];

describe('crafted TF.js model.json fields: E_FORMAT (exit 3) naming the file and the JSON path', () => {
  it.each(TFJS_EDITS)('%s', async (name, edit, field) => {
    const file = tfjsWith(name.replace(/\W+/g, '-'), edit);
    for (const argv of [
      ['inspect', file],
      ['quantize', '--mode', 'fp16', file, path.join(dir, 'q.onnx')],
    ]) {
      const r = await mc(...argv);
      expect(r.code, r.err).toBe(3);
      expect(r.err).toContain('[E_FORMAT]');
      expect(r.err).toContain(field);
      expect(r.err).toContain(file);
    }
  });

  it('a layer config field of the wrong type (units "3") is E_FORMAT naming the layer and field', async () => {
    const file = tfjsWith('units-string', (j) => (layers(j)[0].config.units = '3'));
    const r = await mc('quantize', '--mode', 'fp16', file, path.join(dir, 'u.onnx'));
    expect(r.code, r.err).toBe(3);
    expect(r.err).toMatch(/Dense layer 'd1' has config field 'units' = "3", expected a number/);
  });
});

describe('crafted Keras configs inside .keras and .h5: E_FORMAT naming the field', () => {
  it('.keras config.json with a numeric layer class_name (passed inspect, crashed quantize in the protobuf encoder)', async () => {
    const { unzipSync, zipSync } = createRequire(path.join(repoRoot, 'packages/io-keras/package.json'))(
      'fflate',
    ) as typeof import('fflate');
    const seed = seeds.find((s) => s.name === 'tiny-dense.keras')!;
    const entries = unzipSync(seed.files['model.keras']!);
    const cfg = JSON.parse(new TextDecoder().decode(entries['config.json']));
    cfg.config.layers[1].class_name = 5;
    entries['config.json'] = new TextEncoder().encode(JSON.stringify(cfg));
    const file = path.join(dir, 'classname.keras');
    writeFileSync(file, zipSync(entries));
    for (const argv of [
      ['inspect', file],
      ['quantize', '--mode', 'fp16', file, path.join(dir, 'k.onnx')],
    ]) {
      const r = await mc(...argv);
      expect(r.code, r.err).toBe(3);
      expect(r.err).toContain('config.layers[1].class_name');
    }
  });

  it('.h5 model_config with a numeric layer class_name', async () => {
    const seed = seeds.find((s) => s.name === 'tiny-dense.h5')!;
    const bytes = Buffer.from(seed.files['model.h5']!);
    // Same-length edit of the JSON attribute, so the HDF5 structure stays intact.
    const at = bytes.indexOf('"class_name":"Dense"');
    expect(at).toBeGreaterThan(0);
    bytes.write('"class_name":1234567', at, 'utf8');
    const file = path.join(dir, 'classname.h5');
    writeFileSync(file, bytes);
    const r = await mc('quantize', '--mode', 'fp16', file, path.join(dir, 'h.onnx'));
    expect(r.code, r.err).toBe(3);
    expect(r.err).toMatch(/model_config\.config\.layers\[\d\]\.class_name is the number 1234567, expected a string/);
  });
});

describe('crafted ONNX', () => {
  it('a Constant node without outputs (crashed shape inference in inspect/prune/quantize) is read, and no command ends in 70', async () => {
    const Model = onnxModelType();
    const seed = seeds.find((s) => s.name === 'tiny-mlp.onnx')!;
    const m = Model.decode(seed.files['model.onnx']!);
    m.graph.node.unshift({
      op_type: 'Constant',
      name: 'c',
      output: [],
      attribute: [{ name: 'value', type: 4, t: { dims: [1], data_type: 7, int64_data: [3] } }],
    });
    const file = path.join(dir, 'const-no-output.onnx');
    writeFileSync(file, Model.encode(m).finish());
    for (const argv of [
      ['inspect', file],
      ['prune', '--sparsity', '0.5', file, path.join(dir, 'p.onnx')],
      ['quantize', '--mode', 'fp16', file, path.join(dir, 'c.onnx')],
    ]) {
      const r = await mc(...argv);
      // inspect reads it; prune/quantize hand it to onnxruntime, which refuses a Constant without output: the gate
      // cannot run the input model (exit 4) or the candidate (exit 5).
      expect([0, 4, 5], r.err).toContain(r.code);
      if (argv[0] === 'inspect') expect(r.code).toBe(0);
    }
  });
});

describe('crafted ONNX input shapes', () => {
  it('a graph input declaring 10^15 elements: quantize and prune --verify refuse to make verification feeds (exit 4), not a RangeError', async () => {
    const Model = onnxModelType();
    const m = Model.decode(seeds.find((s) => s.name === 'tiny-mlp.onnx')!.files['model.onnx']!);
    m.graph.input[0].type.tensor_type.shape.dim[1] = { dim_value: 1e15 };
    const file = path.join(dir, 'huge-input.onnx');
    writeFileSync(file, Model.encode(m).finish());
    for (const argv of [
      ['quantize', '--mode', 'fp16', file, path.join(dir, 'hq.onnx')],
      ['prune', '--sparsity', '0.5', '--verify', file, path.join(dir, 'hp.onnx')],
    ]) {
      const r = await mc(...argv);
      expect(r.code, r.err).toBe(4);
      expect(r.err).toMatch(/graph input 'x' declares shape \[\d+, 1000000000000000\]/);
    }
  });
});

/** Fuzz cases that once ended in exit 70 (found by `node bench/fuzz/run.mjs`), replayed on every run. */
const fixture = JSON.parse(readFileSync(new URL('./fixtures/fuzz-regressions.json', import.meta.url), 'utf8')) as {
  always: number[];
  withShared: number[];
};
const REGRESSIONS: number[] = [...fixture.always, ...(existsSync(shared) ? fixture.withShared : [])];
const CASES = Number(process.env.MC_FUZZ_CASES ?? 300);

describe('seeded fuzzing through runCli (inspect, convert, quantize fp16, prune 0.5)', () => {
  it(`${CASES} cases + ${REGRESSIONS.length} regression cases: no exit 70, no throw, each case < 30 s`, async () => {
    const bad: string[] = [];
    const codes: Record<string, number> = {};
    for (const n of [...REGRESSIONS, ...Array.from({ length: CASES }, (_, i) => i)]) {
      const c = makeCase(seeds, n);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<{ code: string; err: string }>(
        (resolve) => (timer = setTimeout(() => resolve({ code: 'timeout', err: '' }), 30_000)),
      );
      const r = await Promise.race([runCase(c, runCli, dir), timeout]);
      clearTimeout(timer);
      codes[r.code] = (codes[r.code] ?? 0) + 1;
      if (r.code === 70 || r.code === 'throw' || r.code === 'timeout') bad.push(`${describeCase(c)}: ${r.code}\n${r.err.slice(0, 400)}`);
    }
    expect(bad).toEqual([]);
    expect(Object.values(codes).reduce((a, b) => a + b, 0)).toBe(CASES + REGRESSIONS.length);
    // The mutations reach past the readers: some cases still succeed, most fail as corrupt input.
    expect(codes[0] ?? 0).toBeGreaterThan(0);
    expect(codes[3] ?? 0).toBeGreaterThan(0);
  });
});
