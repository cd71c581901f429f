#!/usr/bin/env node
// @mc/io-onnx: read+write of a ~100 MB model against Debian python3-onnx (onnx.load / onnx.save) on the same file in
// the same run, and a generated 3 GiB external-data model converted (loadOnnx -> saveOnnx) in a child process whose
// peak RSS is measured. Writes bench/out/io-onnx.md. Needs the built dist/ (tsc -b packages/io-onnx) and, for the
// baseline, /usr/bin/python3 with python3-onnx (skipped with a note otherwise).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/io-onnx'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b packages/io-onnx failed');
const io = await import(path.join(root, 'packages/io-onnx/dist/index.js'));
const ir = await import(path.join(root, 'packages/ir/dist/index.js'));

const work = path.join(os.tmpdir(), `mc-bench-io-onnx-${process.pid}`);
mkdirSync(work, { recursive: true });
const RUNS = 5;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const gc = () => globalThis.gc?.();

function buildModel(storage) {
  // 96 float32 weights of 256x1024 / 1024x256 (1 MiB each), chained MatMul+Add: ~96 MiB, 192 nodes.
  const b = new ir.ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', [1, 256]);
  let seed = 1;
  const fill = (n) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      a[i] = (seed / 2 ** 32 - 0.5) * 0.1;
    }
    return a;
  };
  for (let i = 0; i < 96; i++) {
    const dims = i % 2 === 0 ? [256, 1024] : [1024, 256];
    const w = b.initializer(`w${i}`, new ir.Tensor('float32', dims, fill(dims[0] * dims[1]), { storage }));
    const bias = b.initializer(`b${i}`, new ir.Tensor('float32', [dims[1]], fill(dims[1]), { storage }));
    x = b.node('Add', [b.node('MatMul', [x, w]), bias]);
  }
  b.output(x, 'y', { dtype: 'float32', shape: [1, 256] });
  return b.build();
}

function benchOurs(file) {
  const reads = [];
  const writes = [];
  const out = `${file}.mc-out.onnx`;
  for (let r = 0; r < RUNS; r++) {
    gc();
    let t0 = performance.now();
    const m = io.readOnnx(readFileSync(file), { file });
    reads.push(performance.now() - t0);
    t0 = performance.now();
    writeFileSync(out, io.writeOnnx(m));
    writes.push(performance.now() - t0);
  }
  const identical = Buffer.compare(readFileSync(out), readFileSync(file)) === 0;
  rmSync(out, { force: true });
  return { read: median(reads), write: median(writes), identical };
}

function benchPython(file) {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return { note: 'no /usr/bin/python3' };
  const script = `
import json, sys, time, onnx
p = sys.argv[1]; out = p + '.py-out.onnx'; reads = []; writes = []
for _ in range(${RUNS}):
    t0 = time.perf_counter(); m = onnx.load(p); reads.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter(); onnx.save(m, out); writes.append((time.perf_counter() - t0) * 1000)
reads.sort(); writes.sort()
same = open(out, 'rb').read() == open(p, 'rb').read()
import os; os.remove(out)
print(json.dumps({'read': reads[len(reads)//2], 'write': writes[len(writes)//2], 'identical': same, 'version': onnx.__version__}))
`;
  const r = spawnSync(py, ['-c', script, file], { encoding: 'utf8' });
  if (r.status !== 0) return { note: `python3-onnx failed: ${(r.stderr || '').trim().split('\n').pop()}` };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const rows = [];
for (const storage of ['raw', 'field']) {
  const file = path.join(work, `mlp-100mb-${storage}.onnx`);
  writeFileSync(file, io.writeOnnx(buildModel(storage)));
  gc();
  const size = statSync(file).size;
  const ours = benchOurs(file);
  const pyr = benchPython(file);
  rows.push({ storage, size, ours, py: pyr });
  rmSync(file, { force: true });
}

// 3 GiB external-data model: generated tensor by tensor (lazy tensors whose loader fills 64 MiB), then converted in a
// child process that reports its own peak RSS.
const childScript = (body) => `
const io = await import(${JSON.stringify(path.join(root, 'packages/io-onnx/dist/index.js'))});
const ir = await import(${JSON.stringify(path.join(root, 'packages/ir/dist/index.js'))});
const [src, dst] = process.argv.slice(1);
const t0 = performance.now();
${body}
console.log(JSON.stringify({ ms: performance.now() - t0, maxRssKiB: process.resourceUsage().maxRSS, ...res }));
`;
const big = path.join(work, 'big', 'big.onnx');
const out = path.join(work, 'out', 'big.onnx');
mkdirSync(path.dirname(big), { recursive: true });
mkdirSync(path.dirname(out), { recursive: true });
const gen = spawnSync(process.execPath, ['--input-type=module', '-e', childScript(`
const b = new ir.ModelBuilder({ opset: 17 });
let x = b.input('x', 'float32', [1, 4096]);
for (let i = 0; i < 48; i++) {
  const w = b.initializer('w' + i, new ir.Tensor('float32', [4096, 4096], () => { const a = new Float32Array(4096 * 4096); a.fill(i / 48); a[0] = i; return a; }));
  x = b.node('MatMul', [x, w]);
}
b.output(x, 'y', { dtype: 'float32', shape: [1, 4096] });
const res = await io.saveOnnx(b.build(), src); // default options: over 2 GiB, so tensors go external by themselves
`), big, out], { encoding: 'utf8' });
if (gen.status !== 0) throw new Error(`generating the 3 GiB model failed: ${gen.stderr}`);
const genRes = JSON.parse(gen.stdout.trim());
const conv = spawnSync('/usr/bin/time', ['-v', process.execPath, '--input-type=module', '-e', childScript(`
const m = await io.loadOnnx(src);
const res = await io.saveOnnx(m, dst);
`), big, out], { encoding: 'utf8' });
if (conv.status !== 0) throw new Error(`converting the 3 GiB model failed: ${conv.stderr}`);
const convRes = JSON.parse(conv.stdout.trim());
const timeRss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(conv.stderr)?.[1] ?? NaN);
// Spot check: first, middle and last tensors equal in the converted file.
const a = await io.loadOnnx(big);
const c = await io.loadOnnx(out);
let spotOk = true;
for (const n of ['w0', 'w24', 'w47']) {
  const x = a.graph.initializers.get(n).constValue.data;
  const y = c.graph.initializers.get(n).constValue.data;
  spotOk &&= Buffer.compare(Buffer.from(x.buffer), Buffer.from(y.buffer)) === 0;
}
rmSync(work, { recursive: true, force: true });

const lines = [
  '## io-onnx: read/write speed and streaming memory',
  '',
  `Median of ${RUNS} runs each, same file, same run (${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}).`,
  'mc = `readOnnx(readFileSync(f))` and `writeFileSync(out, writeOnnx(m))` (protobufjs 8 reflection);',
  'python = `onnx.load(f)` and `onnx.save(m, out)` (Debian python3-onnx, C++ protobuf). Goal: mc ≤ 1.0× python (read + write, in-process).',
  '',
  '| model | size | mc read | mc write | mc total | python read | python write | python total | mc / python | byte-identical rewrite (mc / python) |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(({ storage, size, ours, py }) => {
    const tot = ours.read + ours.write;
    if (py.note) return `| ${storage === 'raw' ? 'raw_data' : 'float_data'} | ${(size / 2 ** 20).toFixed(1)} MiB | ${fmt(ours.read)} | ${fmt(ours.write)} | ${fmt(tot)} | – | – | – | ${py.note} | ${ours.identical} / – |`;
    const ptot = py.read + py.write;
    return `| ${storage === 'raw' ? 'raw_data' : 'float_data'} (96 weights) | ${(size / 2 ** 20).toFixed(1)} MiB | ${fmt(ours.read)} | ${fmt(ours.write)} | ${fmt(tot)} | ${fmt(py.read)} | ${fmt(py.write)} | ${fmt(ptot)} | **${(tot / ptot).toFixed(2)}×** | ${ours.identical} / ${py.identical} |`;
  }),
  '',
  `Streaming conversion of a generated external-data model: ${genRes.externalTensors} float32 tensors of 4096×4096, ` +
    `${(genRes.externalBytes / 2 ** 30).toFixed(2)} GiB of external data. \`loadOnnx\` → \`saveOnnx\` into another folder in a child process:`,
  '',
  '| step | wall | peak RSS (process.resourceUsage) | peak RSS (/usr/bin/time -v) | goal |',
  '|---|---|---|---|---|',
  `| generate (saveOnnx with default options: over 2 GiB, so external by itself; tensors produced one by one) | ${fmt(genRes.ms)} | ${(genRes.maxRssKiB / 1024).toFixed(0)} MiB | – | – |`,
  `| convert (loadOnnx + saveOnnx, range copies) | ${fmt(convRes.ms)} | **${(convRes.maxRssKiB / 1024).toFixed(0)} MiB** | ${(timeRss / 1024).toFixed(0)} MiB | < 1024 MiB ${convRes.maxRssKiB < 1024 * 1024 ? '✔' : '✘'} |`,
  '',
  `Converted tensors w0, w24, w47 equal to the source: ${spotOk ? '✔' : '✘'}.`,
  '',
];
mkdirSync(path.join(here, 'out'), { recursive: true });
writeFileSync(path.join(here, 'out', 'io-onnx.md'), lines.join('\n'));
process.stdout.write(`io-onnx bench: ${rows.map((r) => `${r.storage} ${r.py.note ? r.py.note : ((r.ours.read + r.ours.write) / (r.py.read + r.py.write)).toFixed(2) + 'x python'}`).join(', ')}; 3 GiB convert peak RSS ${(convRes.maxRssKiB / 1024).toFixed(0)} MiB\n`);
