#!/usr/bin/env node
// @mc/distill: Hinton's distillation experiment in small on MNIST, label-free distillation, and the seed's fine-tuning
// after compression end to end through the CLI (the training step time is bench/training-step.bench.mjs). Accuracy is
// measured by running the trained models in onnxruntime-node on the full 10k test set. Writes bench/out/distill.md.
// Needs ../shared/data/mnist.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/distill', 'packages/io-onnx', 'packages/verify'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b packages/distill packages/io-onnx packages/verify failed');
const distill = await import(path.join(root, 'packages/distill/dist/index.js'));
const datasets = await import(path.join(root, 'packages/datasets/dist/index.js'));
const verify = await import(path.join(root, 'packages/verify/dist/index.js'));
const ir = await import(path.join(root, 'packages/ir/dist/index.js'));
const io = await import(path.join(root, 'packages/io-onnx/dist/index.js'));

const outDir = path.join(here, 'out');
mkdirSync(outDir, { recursive: true });
const mnistDir = path.resolve(root, '../shared/data/mnist');
const lines = ['## Training and distillation (`@mc/distill`)', '', `Load average at start: ${os.loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${os.cpus().length} cores (training times depend on it).`, ''];
const log = (s) => process.stderr.write(`distill: ${s}\n`);
if (!existsSync(path.join(mnistDir, 'train-images-idx3-ubyte.gz'))) {
  lines.push('Skipped: ../shared/data/mnist is absent.');
  writeFileSync(path.join(outDir, 'distill.md'), `${lines.join('\n')}\n`);
  process.exit(0);
}
const train = await datasets.loadMnist(mnistDir, { split: 'train' });
const test = await datasets.loadMnist(mnistDir, { split: 'test' });
const accuracy = async (model) => {
  const s = await verify.createSession(model);
  const r = await datasets.evaluate(async (b) => Object.values(await s.run({ input: new ir.Tensor('float32', b.dims, b.x) }))[0].data, test, {
    batchSize: 1000,
    layout: model.graph.inputs[0].shape.length === 2 ? 'flat' : 'NCHW',
  });
  await s.release();
  return r;
};

// ---- (2) Hinton in small, (3) label-free ---------------------------------------------------------------------------
const TEACHER_N = 57000;
const TRANSFER_N = 3000;
const EPOCHS = 15;
const T = 20; // Hinton et al. used T = 20 for MNIST
const ALPHA = 0.9;
let t0 = performance.now();
// A LeNet-style CNN teacher (cheap on wasm) trained on other images than the transfer set; students are Hinton's
// 784-800-800-10 MLP, which overfits a small transfer set on hard labels and is regularised by soft targets.
// The teacher is cached in bench/.cache/distill/ (keyed by its recipe): later runs skip its training.
const teacherFile = path.join(root, `bench/.cache/distill/teacher-lenet-${TEACHER_N}.onnx`);
let teacher;
if (existsSync(teacherFile)) {
  teacher = { model: await io.loadOnnx(teacherFile), report: { seconds: NaN } };
} else {
  teacher = await distill.finetune(distill.lenet({ seed: 1, channels: [16, 32], dense: 128 }), train.subset(Array.from({ length: TEACHER_N }, (_, i) => TRANSFER_N + i)), { epochs: 2, batchSize: 128, seed: 1, learningRate: 2e-3 });
  mkdirSync(path.dirname(teacherFile), { recursive: true });
  await io.saveOnnx(teacher.model, teacherFile);
}
const teacherAcc = await accuracy(teacher.model);
log(`teacher ${(teacherAcc.top1 * 100).toFixed(2)}% in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
const transfer = train.subset(Array.from({ length: TRANSFER_N }, (_, i) => i));
const student = () => distill.mlp([784, 800, 800, 10], { seed: 2 });
const common = { epochs: EPOCHS, batchSize: 64, seed: 2, learningRate: 1e-3 };
const runs = [];
for (const [name, fn] of [
  ['student, hard labels (cross-entropy)', () => distill.finetune(student(), transfer, common)],
  [`student, distilled (T=${T}, α=${ALPHA})`, () => distill.distill(teacher.model, student(), transfer, { ...common, temperature: T, alpha: ALPHA })],
  [`student, distilled label-free (T=${T}, α=${ALPHA}, labels never read)`, () => distill.distill(teacher.model, student(), transfer.withoutLabels(), { ...common, temperature: T, alpha: ALPHA, unlabeled: true })],
]) {
  t0 = performance.now();
  const r = await fn();
  const s = (performance.now() - t0) / 1000;
  const acc = await accuracy(r.model);
  runs.push({ name, acc, s });
  log(`${name}: ${(acc.top1 * 100).toFixed(2)}% (${acc.errors} errors) in ${s.toFixed(0)} s`);
}
const [hard, kd, free] = runs;
const fewer = 1 - kd.acc.errors / hard.acc.errors;
const gap = (kd.acc.top1 - free.acc.top1) * 100;
lines.push(
  '### Distillation in small (Hinton, Vinyals & Dean 2015), MNIST',
  '',
  `Teacher: LeNet-style CNN (Conv16-5×5, MaxPool, Conv32-5×5, MaxPool, Dense128, Dense10; \`lenet()\`) trained 2 epochs (Adam 2e-3, batch 128) on the other ${TEACHER_N} training images (cached in bench/.cache/distill/ after the first run). Students: Hinton's MLP 784-800-800-10, same seed and initial weights, ${EPOCHS} epochs, batch 64, Adam 1e-3, on a transfer set of the first ${TRANSFER_N} training images. Test: all 10,000 MNIST test images, run in onnxruntime-node.`,
  '',
  '| model | test top-1 | test errors | train s |',
  '|---|---|---|---|',
  `| teacher | ${(teacherAcc.top1 * 100).toFixed(2)}% | ${teacherAcc.errors} | ${Number.isNaN(teacher.report.seconds) ? 'cached' : teacher.report.seconds.toFixed(0)} |`,
  ...runs.map((r) => `| ${r.name} | ${(r.acc.top1 * 100).toFixed(2)}% | ${r.acc.errors} | ${r.s.toFixed(0)} |`),
  '',
  `Distillation makes **${(fewer * 100).toFixed(1)}% fewer test errors** than hard labels (goal ≥ 35%: ${fewer >= 0.35 ? 'met' : 'not met'}). Label-free distillation is **${Math.abs(gap).toFixed(2)} pt ${gap >= 0 ? 'below' : 'above'}** the labelled one (goal within 0.5 pt: ${Math.abs(gap) <= 0.5 || gap < 0 ? 'met' : 'not met'}).`,
  '',
);
// ---- (4) seed 000's MNIST row through the CLI: train, compress at error 0.7, fine-tune ---------------------------------
// Seed 000: mnist_cnn 99.19 % → 94.95 % compressed at error 0.7 → 99.07 % fine-tuned. Two originals: (a) the Keras
// mnist_cnn built as Keras builds it and trained by `mc finetune`, (b) the lowrank bench's torch fixture (a short run,
// 98.62 %) trained on further by `mc finetune`. Every step is an `mc` command; the trained and the recovered models are cached in bench/.cache/distill/ with the command's
// arguments and JSON report (a cached step is reused only when its arguments are the same).
const cnnFile = path.join(root, 'bench/.cache/lowrank/mnist_cnn.onnx');
const KERAS_TRAIN_ARGS = ['--epochs', '10', '--batch-size', '128', '--lr', '1e-3', '--schedule', 'cosine', '--seed', '7', '--threads', '2'];
const TRAIN_ARGS = ['--epochs', '6', '--batch-size', '128', '--lr', '1e-3', '--schedule', 'cosine', '--seed', '3', '--threads', '2'];
const RECOVER_ARGS = (process.env.MC_BENCH_RECOVER_ARGS ?? '--alpha 0.5 --temperature 2 --lr 1e-3 --epochs 8 --batch-size 64 --schedule cosine --seed 1 --threads 1').split(' ');
if (existsSync(cnnFile)) {
  const cli = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'apps/cli'], { cwd: root, stdio: 'inherit' });
  const mcRun = (...args) => {
    const t = performance.now();
    const r = spawnSync(process.execPath, [path.join(root, 'apps/cli/dist/main.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`mc ${args[0]} failed (${r.status}): ${r.stderr}`);
    return { out: r.stdout, s: (performance.now() - t) / 1000 };
  };
  if (cli.status === 0) {
    const work = path.join(root, 'bench/.cache/distill');
    mkdirSync(work, { recursive: true });
    const data = ['--dataset', 'mnist', '--data-dir', mnistDir];
    /** Runs `mc <command> ... <out> <args>` unless bench/.cache/distill/<name>.onnx was made by the same arguments. */
    const cached = (name, command, inputs, args) => {
      const out = path.join(work, `${name}.onnx`);
      const meta = path.join(work, `${name}.json`);
      const key = [command, ...inputs.map((f) => path.basename(f)), ...args].join(' ');
      if (existsSync(out) && existsSync(meta)) {
        const m = JSON.parse(readFileSync(meta, 'utf8'));
        if (m.key === key) return { out, ...m, cached: true };
      }
      const r = mcRun(command, ...inputs, out, ...data, ...args, '--json');
      const report = JSON.parse(r.out);
      const m = { key, seconds: report.seconds ?? r.s, report };
      writeFileSync(meta, JSON.stringify(m));
      return { out, ...m, cached: false };
    };
    // Test accuracy in percent and the count of correct images (gaps are counted in images: no float rounding at 0.12).
    const evalOf = (f) => JSON.parse(mcRun('eval', f, ...data, '--json').out);
    const cacheNote = (r) => (r.cached ? ' (cached run)' : '');
    const ep = (r) => r.report.epochs.length;
    // Original → mc compress --error 0.7 → mc distill from the original: one table row group per original.
    const seedRows = (name, original) => {
      const small = path.join(work, `${name}_e07.onnx`);
      const comp = mcRun('compress', '--error', '0.7', original.out, small, '--json');
      const c = JSON.parse(comp.out);
      const rec = cached(`${name}_e07_ft`, 'distill', ['--teacher', original.out, '--student', small], RECOVER_ARGS);
      const [e0, e1, e2] = [evalOf(original.out), evalOf(small), evalOf(rec.out)];
      const [a0, a1, a2] = [e0, e1, e2].map((e) => e.top1 * 100);
      const gap = ((e0.correct - e2.correct) / e0.total) * 100;
      log(`${name} ${a0.toFixed(2)} -> compressed ${a1.toFixed(2)} -> fine-tuned ${a2.toFixed(2)}`);
      const p = (n) => n.toLocaleString('en-US');
      return {
        gap,
        rows: [
          `| original (trained) | ${p(c.before.params)} | ${a0.toFixed(2)}% | ${ep(original)} | ${original.seconds.toFixed(0)} s${cacheNote(original)} | 99.19% |`,
          `| compressed (error 0.7, ${((1 - c.after.params / c.before.params) * 100).toFixed(1)}% removed) | ${p(c.after.params)} | ${a1.toFixed(2)}% | | ${comp.s.toFixed(0)} s | 94.95% (84.19% removed) |`,
          `| + fine-tuned (distilled from the original, ${rec.report.engine} engine, ${rec.report.stepMs.median.toFixed(0)} ms/step) | ${p(c.after.params)} | ${a2.toFixed(2)}% | ${ep(rec)} | ${rec.seconds.toFixed(0)} s${cacheNote(rec)} | 99.07% |`,
          `| **gap to the original** | | **${gap.toFixed(2)} pt** (${e0.correct - e2.correct} more test errors) | | | 0.12 pt |`,
        ],
      };
    };
    // (a) The Keras mnist_cnn as Keras builds it (Glorot-uniform init, dropout .25/.5; distill.mnistCnn), trained by mc.
    const kerasInit = path.join(work, 'mnist_cnn_keras_init.onnx');
    if (!existsSync(kerasInit)) await io.saveOnnx(distill.mnistCnn({ seed: 7 }), kerasInit);
    const kerasTrained = cached('mnist_cnn_keras', 'finetune', [kerasInit], KERAS_TRAIN_ARGS);
    const ka = seedRows('mnist_cnn_keras', kerasTrained);
    // (b) The lowrank bench's torch fixture (no dropout in its export), trained on further by mc.
    const torchTrained = cached('mnist_cnn_trained', 'finetune', [cnnFile], TRAIN_ARGS);
    const tb = seedRows('mnist_cnn_trained', torchTrained);
    const head = ['| model | params | test top-1 | epochs | training time | seed 000 |', '|---|---|---|---|---|---|'];
    lines.push(
      '### Fine-tuning after compression, end to end through the CLI (seed 000 MNIST row)',
      '',
      `Every step is an \`mc\` command on all 60,000 MNIST training images; accuracy by \`mc eval\` (onnxruntime-node, 10,000 test images). \`mc compress --error 0.7\` is keras_compressor's per-layer bound mean|W−Ŵ|/mean|W| with the cheapest ranks that meet it; recovery is \`mc distill --teacher <original> --student <compressed> ${RECOVER_ARGS.join(' ')}\`.`,
      '',
      `(a) The Keras mnist_cnn as Keras builds it (\`mnistCnn({ seed: 7 })\`: Glorot-uniform init, Dropout .25/.5), trained by \`mc finetune ${KERAS_TRAIN_ARGS.join(' ')}\`:`,
      '',
      ...head,
      ...ka.rows,
      '',
      `(b) The lowrank bench's torch-trained fixture (its ONNX export has no dropout), trained on by \`mc finetune ${TRAIN_ARGS.join(' ')}\`:`,
      '',
      ...head,
      ...tb.rows,
      '',
      `Goal within 0.12 pt of the original: (a) **${Math.round(ka.gap * 100) <= 12 ? 'met' : 'not met'}** (${ka.gap.toFixed(2)} pt), (b) ${Math.round(tb.gap * 100) <= 12 ? 'met' : 'not met'} (${tb.gap.toFixed(2)} pt). The same bound gives a different size for differently trained weights (their spectra), and the size decides how much a fine-tune can recover.`,
      '',
    );
  }
  else lines.push('Fine-tuning row skipped: `tsc -b apps/cli` failed.', '');
} else {
  lines.push('Fine-tuning row skipped: bench/.cache/lowrank/mnist_cnn.onnx (made by bench/lowrank.bench.mjs) is absent; run `pnpm bench lowrank` first.', '');
}

writeFileSync(path.join(outDir, 'distill.md'), `${lines.join('\n')}\n`);
log('wrote bench/out/distill.md');
