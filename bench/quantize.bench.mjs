#!/usr/bin/env node
// @mc/quantize: onnxruntime-node latency of fp32 vs int8-dynamic vs int8-static (MLP 784-1024-1024-10 and a 4096x4096
// MatMul, batch 1 and 64); quantization time of a ~100 MB model against reading the file; full-MNIST (10k) and
// ResNet8 CIFAR-10 accuracy of every mode; a generated ~3 GiB external-data model quantized to int8-weights and int4
// in a child process whose peak RSS is measured, against a plain file copy. Writes bench/out/quantize.md.
// Needs the built dist/ (tsc -b, run here). Set MC_BENCH_QUICK=1 to skip the 3 GiB part.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const shared = path.resolve(root, '../shared');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/quantize', 'packages/io-keras', 'packages/datasets'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b failed');
const dist = (p) => import(path.join(root, 'packages', p, 'dist/index.js'));
const ir = await dist('ir');
const io = await dist('io-onnx');
const q = await dist('quantize');
const ds = await dist('datasets');
const ort = (await import(path.join(root, 'node_modules/onnxruntime-node/dist/index.js'))).default ?? (await import(path.join(root, 'node_modules/onnxruntime-node/dist/index.js')));

const work = path.join(os.tmpdir(), `mc-bench-quantize-${process.pid}`);
mkdirSync(work, { recursive: true });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(3)} ms`);
const mb = (b) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(1)} KiB`);
const out = [];
let seed = 1;
const gauss = (n, s) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const u = (seed + 1) / 2 ** 32;
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = s * Math.sqrt(-2 * Math.log(u)) * Math.cos((2 * Math.PI * seed) / 2 ** 32);
  }
  return a;
};

// ---- 1. latency ------------------------------------------------------------------------------------------------
function mlp() {
  const b = new ir.ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', ['N', 784]);
  const dims = [784, 1024, 1024, 10];
  for (let i = 0; i < 3; i++) {
    x = b.node('MatMul', [x, b.initializer(`w${i}`, new ir.Tensor('float32', [dims[i], dims[i + 1]], gauss(dims[i] * dims[i + 1], 1 / Math.sqrt(dims[i]))))]);
    x = b.node('Add', [x, b.initializer(`b${i}`, new ir.Tensor('float32', [dims[i + 1]], gauss(dims[i + 1], 0.1)))]);
    if (i < 2) x = b.node('Relu', [x]);
  }
  b.output(x, 'y');
  return b.build();
}
function bigMatMul() {
  const b = new ir.ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['N', 4096]);
  b.output(b.node('MatMul', [x, b.initializer('w', new ir.Tensor('float32', [4096, 4096], gauss(4096 * 4096, 1 / 64)))]), 'y');
  return b.build();
}
// The three variants run in interleaved rounds (fp32, dyn, static, fp32, ...) so a busy machine slows all alike.
async function latencies(models, feed, rounds = 60) {
  const sessions = [];
  // No spinning: on a shared, oversubscribed machine ORT's spinning pool threads make fp32 GEMM several times slower.
  for (const bytes of models) sessions.push(await ort.InferenceSession.create(bytes, { intraOpNumThreads: 2, interOpNumThreads: 1, extra: { session: { 'intra_op.allow_spinning': '0' } } }));
  const times = models.map(() => []);
  const ys = [];
  for (const s of sessions) for (let i = 0; i < 5; i++) ys[sessions.indexOf(s)] = await s.run(feed);
  for (let r = 0; r < rounds; r++) {
    for (const [i, s] of sessions.entries()) {
      const t = performance.now();
      ys[i] = await s.run(feed);
      times[i].push(performance.now() - t);
    }
  }
  for (const s of sessions) await s.release();
  return times.map((t, i) => ({ ms: median(t), y: Object.values(ys[i])[0].data }));
}
const relErr = (a, b) => {
  let m = 0;
  let r = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    r = Math.max(r, Math.abs(a[i]));
  }
  return m / r;
};
const latRows = [];
for (const [name, make, k] of [['MLP 784-1024-1024-10', mlp, 784], ['MatMul 4096x4096', bigMatMul, 4096]]) {
  const float = make();
  const calib = [1, 2, 3, 4, 5, 6, 7, 8].map(() => ({ x: new ir.Tensor('float32', [64, k], gauss(64 * k, 1)) }));
  const dyn = (await q.quantize(float, { mode: 'int8-dynamic' })).model;
  const sta = (await q.quantize(float, { mode: 'int8-static', calibration: calib })).model;
  const bytes = [io.writeOnnx(float), io.writeOnnx(dyn), io.writeOnnx(sta)];
  for (const batch of [1, 64]) {
    const x = new ort.Tensor('float32', gauss(batch * k, 1), [batch, k]);
    const [f, d, s] = await latencies(bytes, { x }, batch === 1 ? 300 : 40);
    latRows.push(`| ${name} | ${batch} | ${fmtMs(f.ms)} | ${fmtMs(d.ms)} | ${fmtMs(s.ms)} | **${(f.ms / d.ms).toFixed(2)}× / ${(f.ms / s.ms).toFixed(2)}×** | ${relErr(f.y, d.y).toExponential(1)} / ${relErr(f.y, s.y).toExponential(1)} |`);
  }
}
out.push('## @mc/quantize', '', '### onnxruntime-node latency, fp32 vs int8 (same run, 2 intra-op threads without spinning, interleaved rounds, median after warm-up)', '');
out.push(`Load average when measured: ${os.loadavg().map((x) => x.toFixed(1)).join(' / ')} on ${os.cpus().length} cores (the machine is shared; absolute times vary, ratios are side by side).`, '');
out.push('int8-dynamic = DynamicQuantizeLinear + MatMulInteger (int8 symmetric weights); int8-static = QDQ S8S8, per-channel weights, minmax calibration on 8 random batches of 64. Error = max |Δ| / max |y_fp32|.', '');
out.push('| model | batch | fp32 | int8-dynamic | int8-static | speedup dyn / static | rel. error dyn / static |', '|---|---|---|---|---|---|---|', ...latRows, '');

// ---- 2. quantization time of a ~100 MB model vs reading it ----------------------------------------------------------
{
  const b = new ir.ModelBuilder({ opset: 17 });
  let x = b.input('x', 'float32', [1, 256]);
  for (let i = 0; i < 96; i++) {
    const dims = i % 2 === 0 ? [256, 1024] : [1024, 256];
    x = b.node('MatMul', [x, b.initializer(`w${i}`, new ir.Tensor('float32', dims, gauss(262144, 0.05)))]);
  }
  b.output(x, 'y');
  const file = path.join(work, 'mlp-100mb.onnx');
  writeFileSync(file, io.writeOnnx(b.build()));
  const size = statSync(file).size;
  const reads = [];
  const loads = [];
  for (let i = 0; i < 3; i++) {
    let t = performance.now();
    readFileSync(file);
    reads.push(performance.now() - t);
    t = performance.now();
    await io.loadOnnx(file);
    loads.push(performance.now() - t);
  }
  const model = await io.loadOnnx(file);
  const rows = [];
  for (const opts of [{ mode: 'fp16' }, { mode: 'int8-weights' }, { mode: 'int8-dynamic' }, { mode: 'int4' }, { mode: 'int4', format: 'dequantize' }, { mode: 'kmeans', bits: 4 }]) {
    const ts = [];
    let r;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      r = await q.quantize(model, opts);
      ts.push(performance.now() - t);
    }
    const label = opts.mode + (opts.format ? ` (${opts.format})` : '') + (opts.bits ? ` ${opts.bits}-bit` : '');
    rows.push(`| ${label} | ${fmtMs(median(ts))} | ${(median(ts) / median(reads)).toFixed(1)}× | ${mb(r.report.after.paramBytes)} |`);
  }
  out.push(`### Quantization time of a ${mb(size)} model (96 MatMul weights of 256×1024) vs reading the file`, '');
  out.push(`File read (readFileSync) ${fmtMs(median(reads))}; loadOnnx ${fmtMs(median(loads))}. Medians of 3.`, '');
  out.push('| mode | quantize() | / file read | weights after |', '|---|---|---|---|', ...rows, '');
  rmSync(file, { force: true });
}

// ---- 3. accuracy on real data ---------------------------------------------------------------------------------------
async function evaluate(model, dataset, scale, limit) {
  const input = model.graph.inputs.filter((v) => !v.isInitializer())[0];
  const layout = ds.layoutForInput(dataset, input.shape, input.name);
  const fixed = typeof input.shape?.[0] === 'number' ? input.shape[0] : undefined;
  const s = await ort.InferenceSession.create(io.writeOnnx(model), { intraOpNumThreads: 2 });
  let ok = 0;
  let n = 0;
  for await (const bt of dataset.batches({ batchSize: fixed ?? 250, layout, scale, limit })) {
    const r = await s.run({ [input.name]: new ort.Tensor('float32', bt.x, [...bt.dims]) });
    const y = Object.values(r)[0].data;
    const c = y.length / bt.labels.length;
    for (let i = 0; i < bt.labels.length; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (y[i * c + j] > y[i * c + best]) best = j;
      if (best === bt.labels[i]) ok++;
      n++;
    }
  }
  await s.release();
  return (100 * ok) / n;
}
async function* calibFeeds(model, dataset, scale, limit) {
  const input = model.graph.inputs.filter((v) => !v.isInitializer())[0];
  const layout = ds.layoutForInput(dataset, input.shape, input.name);
  const fixed = typeof input.shape?.[0] === 'number' ? input.shape[0] : undefined;
  for await (const bt of dataset.batches({ batchSize: fixed ?? 32, layout, scale, limit })) yield { [input.name]: new ir.Tensor('float32', [...bt.dims], bt.x) };
}
async function accuracyTable(title, model, test, train, scale, limit, modes, withKept = false) {
  const base = await evaluate(model, test, scale, limit);
  const baseBytes = io.writeOnnx(model).byteLength;
  const pct = (b) => `${((100 * b) / baseBytes).toFixed(1)} %`;
  const rows = [`| float32 | ${base.toFixed(2)} % | | ${mb(baseBytes)} | 100 % |${withKept ? ' |' : ''}`];
  for (const [label, opts] of modes) {
    const o = opts.mode === 'int8-static' ? { ...opts, calibration: calibFeeds(model, train, scale, 256) } : opts;
    try {
      const r = await q.quantize(model, o);
      const acc = await evaluate(r.model, test, scale, limit);
      const bytes = io.writeOnnx(r.model).byteLength;
      let kept = '';
      if (withKept) {
        const k = await q.quantize(model, { ...o, ...(opts.mode === 'int8-static' && { calibration: calibFeeds(model, train, scale, 256) }), keepMetadata: true });
        kept = ` ${pct(io.writeOnnx(k.model).byteLength)} |`;
      }
      rows.push(`| ${label} | ${acc.toFixed(2)} % | ${(acc - base).toFixed(2)} pt | ${mb(bytes)} | ${pct(bytes)} (weights ${((100 * r.report.after.paramBytes) / r.report.before.paramBytes).toFixed(1)} %) |${kept}`);
    } catch (e) {
      rows.push(`| ${label} | failed: ${String(e.message).slice(0, 120)} | | | |${withKept ? ' |' : ''}`);
    }
  }
  const head = withKept
    ? ['| mode | top-1 | Δ vs float | file | file bytes / float file (initializer bytes) | keepMetadata: file / float file |', '|---|---|---|---|---|---|']
    : ['| mode | top-1 | Δ vs float | file | file bytes / float file (initializer bytes) |', '|---|---|---|---|---|'];
  out.push(`### ${title}`, '', ...head, ...rows, '');
}
const allModes = [
  ['fp16', { mode: 'fp16' }],
  ['int8-weights per-channel', { mode: 'int8-weights' }],
  ['int8-dynamic', { mode: 'int8-dynamic' }],
  ['int8-static minmax', { mode: 'int8-static', method: 'minmax' }],
  ['int8-static percentile', { mode: 'int8-static', method: 'percentile' }],
  ['int8-static entropy', { mode: 'int8-static', method: 'entropy' }],
  ['int8-static minmax, format qoperator, names short', { mode: 'int8-static', method: 'minmax', format: 'qoperator', names: 'short' }],
  ['int4 MatMulNBits block 32', { mode: 'int4' }],
  ['kmeans 4-bit', { mode: 'kmeans', bits: 4, minElements: 1 }],
  ['ternary', { mode: 'ternary' }],
  ['binary', { mode: 'binary' }],
];
const mnistDir = path.join(shared, 'data/mnist');
if (existsSync(mnistDir)) {
  const test = await ds.loadMnist(mnistDir, { split: 'test' });
  const train = await ds.loadMnist(mnistDir, { split: 'train', limit: 2000 });
  const cntk = path.join(shared, 'models/onnx/mnist-cntk-opset8.onnx');
  if (existsSync(cntk)) await accuracyTable('MNIST, mnist-cntk ONNX model, full 10,000 test images (calibration: 256 training images)', await io.loadOnnx(cntk), test, train, 1, undefined, allModes, true);
  const moon = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
  if (existsSync(moon)) {
    const ik = await dist('io-keras');
    await accuracyTable('MNIST, Keras simple convnet (moonflower mnist_convnet.h5 via @mc/io-keras, float file = its ONNX export), full 10,000 test images', await ik.loadKeras(moon), test, train, 1 / 255, undefined, allModes, true);
  }
} else out.push('MNIST not found beside the repo: accuracy tables skipped.', '');
const cifarDir = path.join(shared, 'data/cifar10');
const resnet = path.join(shared, 'models/keras/mlperf-tiny/resnet8_cifar10.h5');
if (existsSync(cifarDir) && existsSync(resnet)) {
  const ik = await dist('io-keras');
  const model = await ik.loadKeras(resnet);
  const test = await ds.loadCifar10(cifarDir, { split: 'test', limit: 1000 });
  const train = await ds.loadCifar10(cifarDir, { split: 'train', limit: 4000 });
  await accuracyTable('ResNet8 CIFAR-10 (mlperf-tiny, via @mc/io-keras), 1,000 test images; int8-static per-channel calibrated on 256 training images', model, test, train, 1, 1000, allModes.filter(([l]) => l.startsWith('int8') || l === 'fp16'));
} else out.push('ResNet8 / CIFAR-10 not found: table skipped.', '');

// ---- 4. scale: ~3 GiB external-data model -----------------------------------------------------------------------------
if (process.env.MC_BENCH_QUICK !== '1') {
  const big = path.join(work, 'big', 'big.onnx');
  mkdirSync(path.dirname(big), { recursive: true });
  const child = (body, args) => {
    const script = `
const io = await import(${JSON.stringify(path.join(root, 'packages/io-onnx/dist/index.js'))});
const ir = await import(${JSON.stringify(path.join(root, 'packages/ir/dist/index.js'))});
const q = await import(${JSON.stringify(path.join(root, 'packages/quantize/dist/index.js'))});
const [src, dst] = process.argv.slice(1);
const LAYERS = 40;
const t0 = performance.now();
${body}
console.log(JSON.stringify({ ms: performance.now() - t0, ...res }));`;
    const r = spawnSync('/usr/bin/time', ['-v', process.execPath, '--input-type=module', '-e', script, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`child failed: ${r.stderr.slice(-2000)}`);
    return { ...JSON.parse(r.stdout.trim().split('\n').pop()), rssMiB: Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024 };
  };
  const gen = child(`
const b = new ir.ModelBuilder({ opset: 17 });
let x = b.input('x', 'float32', [1, 4096]);
for (let i = 0; i < LAYERS; i++) {
  // a residual block x + tanh(x)·W (W uniform in ±0.01, hashed: no structure int4 could exploit; small updates to the
  // residual stream, as in a transformer block)
  const w = b.initializer('w' + i, new ir.Tensor('float32', [4096, 4096], () => { const a = new Float32Array(4096 * 4096); for (let j = 0; j < a.length; j++) a[j] = ((Math.imul(j ^ Math.imul(i + 1, 0x9e3779b1), 0x85ebca6b) >>> 0) / 4294967296 - 0.5) * 0.02; return a; }));
  x = b.node('Add', [x, b.node('MatMul', [b.node('Tanh', [x]), w])]);
}
b.output(x, 'y');
const res = await io.saveOnnx(b.build(), src, { externalData: { threshold: 1024 } });`, [big]);
  const srcBytes = statSync(big).size + statSync(`${big}.data`).size;
  let t = performance.now();
  copyFileSync(`${big}.data`, path.join(work, 'copy.data'));
  const copyMs = performance.now() - t;
  rmSync(path.join(work, 'copy.data'));
  const rows = [];
  for (const [label, opts] of [['int8-weights', { mode: 'int8-weights' }], ['int4 MatMulNBits', { mode: 'int4' }]]) {
    const dst = path.join(work, 'out', 'q.onnx');
    mkdirSync(path.dirname(dst), { recursive: true });
    const r = child(`
const m = await io.loadOnnx(src);
const { model } = await q.quantize(m, ${JSON.stringify(opts)});
const res = await io.saveOnnx(model, dst, { externalData: { threshold: 1024 } });`, [big, dst]);
    rows.push(`| ${label} | ${mb(srcBytes)} → ${mb(r.bytes + r.externalBytes)} | ${fmtMs(r.ms)} | ${(r.ms / copyMs).toFixed(1)}× | **${r.rssMiB.toFixed(0)} MiB** |`);
    rmSync(path.dirname(dst), { recursive: true, force: true });
  }
  // The CLI, verification on: both models are checked segment by segment (see docs/verify.md).
  const cliRows = [];
  for (const mode of ['int8-weights', 'int4']) {
    const dst = path.join(work, 'cli', `q-${mode}.onnx`);
    mkdirSync(path.dirname(dst), { recursive: true });
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-v', process.execPath, path.join(root, 'apps/cli/dist/main.js'), 'quantize', '--mode', mode, big, dst], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const ms = performance.now() - t0;
    const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1] ?? NaN) / 1024;
    const verify = /verify y \(synthetic inputs\): cosine ([0-9.]+)/.exec(r.stdout)?.[1];
    const bytes = r.status === 0 ? statSync(dst).size + (existsSync(`${dst}.data`) ? statSync(`${dst}.data`).size : 0) : NaN;
    cliRows.push(`| ${mode} | exit ${r.status} | ${mb(srcBytes)} → ${mb(bytes)} | ${verify ?? '–'} | ${fmtMs(ms)} | **${rss.toFixed(0)} MiB** |`);
    rmSync(path.dirname(dst), { recursive: true, force: true });
  }
  out.push(`### Scale: a generated ${mb(srcBytes)} external-data model (40 residual blocks x + tanh(x)·W, W 4096×4096), load → quantize → save in a child process`, '');
  out.push(`Plain copy of the .data file: ${fmtMs(copyMs)}. Peak RSS from /usr/bin/time -v. Generation took ${fmtMs(gen.ms)}.`, '');
  out.push('| mode | size | time | / file copy | peak RSS |', '|---|---|---|---|---|', ...rows, '');
  out.push('`mc quantize --mode M big.onnx q.onnx` (the CLI: load, quantize, verification on synthetic inputs, save):', '');
  out.push('| mode | exit | size | verify cosine | time | peak RSS |', '|---|---|---|---|---|---|', ...cliRows, '');
}
else {
  const prev = existsSync(path.join(here, 'out', 'quantize.md')) ? readFileSync(path.join(here, 'out', 'quantize.md'), 'utf8') : '';
  const i = prev.indexOf('### Scale');
  const note = '(Scale section kept from the last full run; MC_BENCH_QUICK=1 skipped it.)';
  if (i >= 0) out.push(prev.slice(i).split(note).join('').trim(), '', note, '');
}
rmSync(work, { recursive: true, force: true });
mkdirSync(path.join(here, 'out'), { recursive: true });
writeFileSync(path.join(here, 'out', 'quantize.md'), `${out.join('\n')}\n`);
process.stderr.write('bench quantize: wrote bench/out/quantize.md\n');
