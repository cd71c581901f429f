#!/usr/bin/env node
// Training step time of the Keras mnist_cnn architecture (batch 128, Adam, 1 thread) on mc's two engines (a generated
// ONNX training graph in onnxruntime-node; tfjs-wasm + mc's gradient kernels) against Debian python3-torch 1.13 on its
// strongest CPU libraries here (OpenBLAS + oneDNN; `bench/blas.mjs` installs OpenBLAS where it can), same batch and
// thread count. Writes bench/out/training-step.md. Needs ../shared/data/mnist; the torch baseline needs /usr/bin/python3
// with python3-torch (skipped with a note).
import { baselineBlas, ensureOpenBlas } from './blas.mjs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/distill'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b packages/distill failed');
const distill = await import(path.join(root, 'packages/distill/dist/index.js'));
const datasets = await import(path.join(root, 'packages/datasets/dist/index.js'));

const outDir = path.join(here, 'out');
mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, 'training-step.md');
const mnistDir = path.resolve(root, '../shared/data/mnist');
const lines = ['## Training step time (`@mc/distill`)', '', `Load average at start: ${os.loadavg().map((v) => v.toFixed(1)).join(' / ')} on ${os.cpus().length} cores (ratios are measured side by side, engines interleaved).`, ''];
const log = (s) => process.stderr.write(`training-step: ${s}\n`);
if (!existsSync(path.join(mnistDir, 'train-images-idx3-ubyte.gz'))) {
  lines.push('Skipped: ../shared/data/mnist is absent.');
  writeFileSync(outFile, `${lines.join('\n')}\n`);
  process.exit(0);
}
const train = await datasets.loadMnist(mnistDir, { split: 'train' });

// Engines are timed interleaved, ROUNDS times (the machine is shared): each round runs ours on onnxruntime-node (1
// intra-op thread), ours on tfjs-wasm, and torch (1 thread), STEPS steps each; a row's figure is the median over rounds
// of each run's median step, and the ratio the median over rounds of the per-round ratio.
const STEPS = 9;
const ROUNDS = Number(process.env.MC_BENCH_STEP_ROUNDS ?? 3);
const ortRules = await import(path.join(root, 'packages/distill/dist/ort/rules.js'));
const cnnData = train.subset(Array.from({ length: 128 * STEPS }, (_, i) => i));
const cnnStep = async (engine, dW = 'im2col') => {
  ortRules.setConvWeightGrad(dW);
  const r = await distill.finetune(distill.mnistCnn({ seed: 1 }), cnnData, { epochs: 1, batchSize: 128, seed: 1, engine, threads: 1 });
  ortRules.setConvWeightGrad('im2col');
  return r.report.stepMs.median;
};
const torchScript = `
import json, time, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(1)
m = nn.Sequential(nn.Conv2d(1,32,3), nn.ReLU(), nn.Conv2d(32,64,3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                  nn.Flatten(), nn.Linear(9216,128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128,10))
opt = torch.optim.Adam(m.parameters(), 1e-3); lossf = nn.CrossEntropyLoss()
x = torch.rand(128,1,28,28); y = torch.randint(0,10,(128,))
ts = []
for i in range(${STEPS}):
    t = time.perf_counter(); opt.zero_grad(); l = lossf(m(x), y); l.backward(); opt.step(); ts.append((time.perf_counter()-t)*1000)
ts = sorted(ts[1:]); print(json.dumps({"median": ts[len(ts)//2], "version": torch.__version__, "threads": torch.get_num_threads()}))
`;
const torchStep = () => {
  const py = spawnSync('/usr/bin/python3', ['-c', torchScript], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' } });
  if (py.status === 0) return JSON.parse(py.stdout.trim().split('\n').at(-1));
  log(`torch baseline skipped: ${(py.stderr || py.error?.message || '').split('\n').filter(Boolean).at(-1)}`);
  return undefined;
};
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
log(ensureOpenBlas());
// torch on OpenBLAS + oneDNN is the strongest CPU baseline here (the reference BLAS made its step 2× slower).
const torchBlas = baselineBlas({ torch: true }).text.replace(/^numpy [^;]*; /, '');
const runsBy = { ort: [], ortConv: [], wasm: [], torch: [] };
let torch;
for (let r = 0; r < ROUNDS; r++) {
  runsBy.ort.push(await cnnStep('ort'));
  runsBy.wasm.push(await cnnStep('wasm'));
  const t = torchStep();
  if (t !== undefined) {
    torch = t;
    runsBy.torch.push(t.median);
  }
  runsBy.ortConv.push(await cnnStep('ort', 'conv'));
  log(`mnist_cnn step, round ${r + 1}: ort ${runsBy.ort.at(-1).toFixed(0)} ms, wasm ${runsBy.wasm.at(-1).toFixed(0)} ms, torch ${t ? t.median.toFixed(0) : '–'} ms, ort (dW as Conv) ${runsBy.ortConv.at(-1).toFixed(0)} ms`);
}
const haveTorch = runsBy.torch.length === ROUNDS;
const ratio = (k) => (haveTorch ? med(runsBy[k].map((v, i) => v / runsBy.torch[i])) : undefined);
const row = (name, k) => {
  const q = ratio(k);
  return `| ${name} | ${med(runsBy[k]).toFixed(0)} | ${(med(runsBy[k]) / 128).toFixed(2)} | ${q !== undefined ? `${q.toFixed(2)}× torch` : '–'} | ${runsBy[k].map((v) => v.toFixed(0)).join(' / ')} |`;
};
const ortRatio = ratio('ort');
lines.push(
  'Keras mnist_cnn architecture, batch 128, Adam, 1 thread.',
  '',
  `Conv32-3×3-ReLU, Conv64-3×3-ReLU, MaxPool2, Dropout .25, Dense128-ReLU, Dropout .5, Dense10; one step = forward + backward + Adam update (ours: also the batch, dropout masks and the JS optimizer), median of ${STEPS - 1} steps after one warm-up step. Every engine runs on one thread: onnxruntime with \`intraOpNumThreads: 1\`, tfjs-wasm is single-threaded in Node, torch \`set_num_threads(1)\` with \`OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1\`. ${ROUNDS} rounds, engines interleaved within each round; the figure is the median over rounds, the ratio the median of the per-round ratios.`,
  '',
  '| engine | ms / step | s / 1000 samples | ratio | per round (ms) |',
  '|---|---|---|---|---|',
  row("mc, engine 'ort' (one generated ONNX training graph in onnxruntime-node 1.30; Conv dW by im2col + GEMM)", 'ort'),
  row("mc, engine 'ort' with Conv dW as a Conv over batch↔channel-swapped tensors", 'ortConv'),
  row("mc, engine 'wasm' (tfjs-wasm 4.22 + mc conv/matmul gradient kernels)", 'wasm'),
  haveTorch ? `| torch ${torch.version} (Debian python3-torch; ${torchBlas}), ${torch.threads} thread | ${med(runsBy.torch).toFixed(0)} | ${(med(runsBy.torch) / 128).toFixed(2)} | 1 | ${runsBy.torch.map((v) => v.toFixed(0)).join(' / ')} |` : '| torch | skipped: /usr/bin/python3 with python3-torch not available | | | |',
  '',
  ortRatio !== undefined ? `Goal ≤ 0.8× torch on its strongest CPU libraries here (OpenBLAS + oneDNN): **${ortRatio <= 0.8 ? 'met' : 'not met'}** by engine 'ort' (${ortRatio.toFixed(2)}×; engine 'wasm' ${ratio('wasm').toFixed(2)}×). \`finetune\`/\`distill\` pick 'ort' by default ('auto') when every op on a path to a trained weight has a gradient rule there.` : '',
  '',
);
const oursMs = med(runsBy.ort);
log(`mnist_cnn step: ort ${oursMs.toFixed(0)} ms, wasm ${med(runsBy.wasm).toFixed(0)} ms${haveTorch ? `, torch ${med(runsBy.torch).toFixed(0)} ms` : ''}`);
writeFileSync(outFile, `${lines.join('\n')}\n`);
log('wrote bench/out/training-step.md');
