#!/usr/bin/env node
// Deep Compression with mc's default recipe, through the CLI, on a LeNet-300-100 that mc did not train (PyTorch's,
// bench/lenet/train_lenet_torch.py, cached in ~/.cache/mc/lenet-torch) and on mc's own (examples/models/mnist-mlp.onnx):
// file bytes before/after, top-1 on the 10,000 MNIST test images in onnxruntime-node (mc eval) and -web, onnx.checker,
// wall time. Next to it, the fine-tuning of the earlier bench recipe (Adam 2e-4, batch 128, 3 epochs, constant) on the
// torch model. Writes bench/out/prune_deep-compression.md. About 5 minutes, plus 10 to train the two torch models once.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { torchLenet, torchLenetMissing } from './lenet/torch-lenet.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'apps/cli'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b apps/cli failed');
const datasets = await import(path.join(root, 'packages/datasets/dist/index.js'));
const mnistDir = path.resolve(root, '../shared/data/mnist');
const outDir = path.join(here, 'out');
mkdirSync(outDir, { recursive: true });
const work = mkdtempSync(path.join(os.tmpdir(), 'mc-dc-bench-'));
const log = (s) => process.stderr.write(`deep-compression: ${s}\n`);
const data = ['--dataset', 'mnist', '--data-dir', mnistDir];
const RECIPE = ['--sparsity', '0.92', '--global', '--codebook', '4', '--finetune', '--epochs', '5', '--schedule', 'cosine'];
const OLD = ['--sparsity', '0.92', '--global', '--codebook', '4', '--finetune', '--epochs', '3', '--lr', '2e-4', '--batch-size', '128'];

function mc(...argv) {
  const t = Date.now();
  const r = spawnSync(process.execPath, [path.join(root, 'apps/cli/dist/main.js'), ...argv], { encoding: 'utf8', cwd: root });
  if (r.status !== 0) throw new Error(`mc ${argv.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
  return { out: r.stdout, seconds: (Date.now() - t) / 1000 };
}

function top1(file) {
  const m = /top-1 [\d.]+% \((\d+)\/10000\)/.exec(mc('eval', ...data, file).out);
  if (m === null) throw new Error(`mc eval ${file}: no top-1 on 10,000 images`);
  return Number(m[1]) / 10000;
}

async function top1Web(file, layout) {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const s = await ort.InferenceSession.create(readFileSync(file));
  const test = await datasets.loadMnist(mnistDir, { split: 'test' });
  const r = await datasets.evaluate(async (b) => Object.values(await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', b.x, [...b.dims]) }))[0].data, test, { batchSize: 500, layout });
  await s.release();
  return r.top1;
}

function checker(file) {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)', file], { encoding: 'utf8' });
  if (r.status === 0) return 'passes';
  const msg = r.stderr.trim().split('\n').at(-1);
  // Debian's onnx 1.12 knows IR ≤ 8; a newer input (mc's own model is IR 9) keeps its IR version in the output.
  return /ir_version is higher/.test(msg) ? 'not run: IR newer than onnx 1.12 knows (≤ 8)' : msg;
}

const pct = (x) => `${(x * 100).toFixed(2)} %`;
const lines = ['### Deep Compression, default recipe, on a LeNet-300-100 trained elsewhere (PyTorch) and on mc\'s own', ''];
const missing = torchLenetMissing(mnistDir);
if (missing !== undefined) {
  lines.push(`Skipped: ${missing}.`, '');
} else {
  const t0 = Date.now();
  const torch = torchLenet(mnistDir);
  log(`torch LeNet-300-100 ${torch.cached ? 'cached' : `trained in ${((Date.now() - t0) / 1000).toFixed(0)} s`}: ${torch.file}`);
  const rows = [];
  const run = async (name, input, flags, label, layout) => {
    const out = path.join(work, `${name}.onnx`);
    const { seconds } = mc('prune', ...flags, ...data, input, out);
    const [before, after, bytesIn, bytesOut] = [top1(input), top1(out), statSync(input).size, statSync(out).size];
    const web = await top1Web(out, layout);
    const row = { name, label, before, after, bytesIn, bytesOut, seconds, web, checker: checker(out) };
    log(JSON.stringify(row));
    rows.push(row);
    return row;
  };
  const main = await run('torch', torch.file, RECIPE, 'default recipe', 'NCHW');
  // A second, better-trained torch model (8 epochs, another seed): the harder case for the same recipe.
  const torch8 = torchLenet(mnistDir, { epochs: 8, seed: 1 });
  log(`torch LeNet-300-100, 8 epochs, seed 1 ${torch8.cached ? 'cached' : 'trained'}: ${torch8.file}`);
  const second = await run('torch8', torch8.file, RECIPE, 'default recipe', 'NCHW');
  await run('mc', path.join(root, 'examples/models/mnist-mlp.onnx'), RECIPE, 'default recipe', 'flat');
  await run('torch-old', torch.file, OLD, 'earlier bench fine-tuning (Adam 2e-4, batch 128, constant)', 'NCHW');
  const who = { torch: `PyTorch ${torch.meta.torch} (train_lenet_torch.py, ${torch.meta.epochs} epochs, torch.onnx: Flatten → Gemm transB=1)`, mc: 'mc (examples/models/mnist-mlp.onnx)', torch8: `PyTorch, ${torch8.meta.epochs} epochs, seed ${torch8.meta.seed} (same script)`, 'torch-old': `PyTorch, ${torch.meta.epochs} epochs (the first row's file)` };
  lines.push(
    `The default recipe is one command: \`mc prune ${RECIPE.join(' ')} --dataset mnist --data-dir DIR in.onnx out.onnx\` (92 % of weights zeroed by global magnitude; 5 epochs of fine-tuning with the zeros held, Adam 1e-3 cosine, batch 64; then each layer's survivors shared through a 16-value k-means codebook in the packed bit stream). Top-1 on the 10,000 MNIST test images in onnxruntime-node (\`mc eval\`) and onnxruntime-web; file ratio = float32 ONNX bytes ÷ output bytes; time = the whole \`mc prune\` command (fine-tuning, storage, verification).`,
    '',
    '| model | fine-tuning | top-1 before | top-1 after (node) | after (web) | drop | bytes before → after | ratio | onnx.checker | time |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${who[r.name]} | ${r.label} | ${pct(r.before)} | ${pct(r.after)} | ${pct(r.web)} | ${((r.before - r.after) * 100).toFixed(2)} pt | ${r.bytesIn.toLocaleString('en')} → ${r.bytesOut.toLocaleString('en')} | **${(r.bytesIn / r.bytesOut).toFixed(1)}×** | ${r.checker} | ${r.seconds.toFixed(0)} s |`),
    '',
    `Target on the models trained elsewhere: ≥ 35× at ≤ 0.3 pt drop → ${[main, second].map((r) => `${(r.bytesIn / r.bytesOut).toFixed(1)}×, ${((r.before - r.after) * 100).toFixed(2)} pt`).join('; ')} (**${[main, second].every((r) => r.bytesIn / r.bytesOut >= 35 && r.before - r.after <= 0.003) ? 'met' : 'not met'}**). The torch models were trained by torch's script in ${torch.meta.seconds} s and ${torch8.meta.seconds} s (torch's own top-1 ${pct(torch.meta.top1)} and ${pct(torch8.meta.top1)}).`,
    '',
  );
}
writeFileSync(path.join(outDir, 'prune_deep-compression.md'), `${lines.join('\n')}\n`);
log('wrote bench/out/prune_deep-compression.md');
