#!/usr/bin/env node
// mc optimize end to end on the Keras "simple MNIST convnet" (../shared/models/keras/moonflower/mnist_convnet.h5):
// --objective size and --objective latency (ort-cpu) at --max-accuracy-drop 0.3, each output then scored
// independently by `mc eval` on the full 10,000-image MNIST test set. Writes bench/out/optimize.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const shared = path.resolve(root, '../shared');
const model = path.join(shared, 'models/keras/moonflower/mnist_convnet.h5');
const data = path.join(shared, 'data/mnist');
const outFile = path.join(here, 'out/optimize.md');
mkdirSync(path.dirname(outFile), { recursive: true });
if (!existsSync(model) || !existsSync(data)) {
  writeFileSync(outFile, '## mc optimize\n\nSkipped: ../shared/models/keras/moonflower or ../shared/data/mnist is missing.\n');
  process.exit(0);
}
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b failed');
const mc = (...args) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [path.join(root, 'apps/cli/dist/main.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  // Exit 5 = no candidate met the bound: a result to report, not a bench failure.
  if (r.status !== 0 && !(r.status === 5 && r.stdout.trim().startsWith('{'))) throw new Error(`mc ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { json: JSON.parse(r.stdout), seconds: (performance.now() - t0) / 1000, error: r.status === 5 ? r.stderr.trim() : undefined };
};
const work = mkdtempSync(path.join(os.tmpdir(), 'mc-bench-optimize-'));
const dataFlags = ['--dataset', 'mnist', '--data-dir', data];
// At batch 1 this 35k-parameter model runs in ~0.07 ms, mostly onnxruntime's per-call overhead; a batch of 64 shows
// what the model itself costs.
const LATENCY_BATCH = 64;
const inBytes = statSync(model).size;
const baseEval = mc('eval', model, ...dataFlags, '--json').json;
const rows = [];
for (const objective of ['size', 'latency']) {
  const out = path.join(work, `${objective}.onnx`);
  const r = mc('optimize', ...dataFlags, '--max-accuracy-drop', '0.3', '--objective', objective, '--target', 'ort-cpu', '--latency-batch', String(LATENCY_BATCH), '--json', model, out);
  const j = r.json;
  if (j.best === null) {
    rows.push({ objective, none: r.error, candidates: j.seen.length, seconds: r.seconds });
    continue;
  }
  const ev = mc('eval', out, ...dataFlags, '--json').json;
  rows.push({ objective, out, chosen: j.best.label, seconds: r.seconds, bytes: statSync(out).size, candidates: j.seen.length, before: baseEval.top1, after: ev.top1, latBefore: j.baseline.measurement.latencyMs, latAfter: j.best.measurement.latencyMs });
}

// Independent timing of the latency output against the input (its ONNX export), outside the search: 7 interleaved
// rounds per batch size, each a median of up to 200 runs; the figure is the median of the rounds.
const { readOnnx } = await import(path.join(root, 'packages/io-onnx/dist/index.js'));
const { latencyOf } = await import(path.join(root, 'packages/pipeline/dist/index.js'));
const { Tensor } = await import(path.join(root, 'packages/ir/dist/index.js'));
const { readFileSync } = await import('node:fs');
const inputOnnx = path.join(work, 'input.onnx');
mc('convert', model, inputOnnx, '--json');
const timing = [];
const latRow = rows.find((r) => r.objective === 'latency' && r.out !== undefined);
if (latRow !== undefined) {
  const a = readOnnx(readFileSync(inputOnnx));
  const b = readOnnx(readFileSync(latRow.out));
  const name = a.graph.inputs[0].name;
  let seed = 1;
  const rnd = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647));
  for (const batch of [1, 64]) {
    const feeds = [{ [name]: new Tensor('float32', [batch, 28, 28, 1], rnd(batch * 784)) }];
    const ta = [];
    const tb = [];
    for (let round = 0; round < 7; round++) {
      ta.push(await latencyOf(a, feeds));
      tb.push(await latencyOf(b, feeds));
    }
    const med = (x) => [...x].sort((p, q) => p - q)[3];
    timing.push({ batch, before: med(ta), after: med(tb), ratios: ta.map((x, i) => x / tb[i]) });
  }
}
const pct = (x) => `${(x * 100).toFixed(2)}%`;
const lines = [
  '## mc optimize (Keras simple MNIST convnet, `--max-accuracy-drop 0.3`)',
  '',
  `Input \`moonflower/mnist_convnet.h5\` (${(inBytes / 1024).toFixed(1)} KiB, 34,826 params). Search scored on 5,000 training images; "accuracy" below is measured afterwards by \`mc eval\` on all 10,000 test images. Latency: onnxruntime-node, 1 thread, batch ${LATENCY_BATCH} (\`--latency-batch ${LATENCY_BATCH}\`), baseline and candidates re-timed in 3 interleaved rounds of up to 200 runs.`,
  '',
  '| objective | chosen | output bytes | smaller than input | test top-1 before → after | drop (pt) | latency before → after | candidates | wall |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => r.none !== undefined ? `| ${r.objective} | none: ${r.none.replace(/\|/g, '/')} | | | | | | ${r.candidates} | ${r.seconds.toFixed(0)} s |` : `| ${r.objective} | ${r.chosen} | ${r.bytes} | **${(inBytes / r.bytes).toFixed(1)}×** | ${pct(r.before)} → ${pct(r.after)} | ${((r.before - r.after) * 100).toFixed(2)} | ${Number.isFinite(r.latAfter) ? `${r.latBefore.toFixed(3)} → ${r.latAfter.toFixed(3)} ms (**${(r.latBefore / r.latAfter).toFixed(2)}×**)` : 'not measured'} | ${r.candidates} | ${r.seconds.toFixed(0)} s |`),
  '',
  ...(timing.length === 0
    ? []
    : [
        `Independent timing of the latency result (\`${latRow.chosen}\`) against the input's ONNX export, after the search: onnxruntime-node, 1 thread, 7 interleaved rounds (each the median of up to 200 runs); figure = median round.`,
        '',
        '| batch | input | output | speed-up | speed-up per round |',
        '|---|---|---|---|---|',
        ...timing.map((t) => `| ${t.batch} | ${t.before.toFixed(3)} ms | ${t.after.toFixed(3)} ms | **${(t.before / t.after).toFixed(2)}×** | ${t.ratios.map((x) => x.toFixed(2)).join(' ')} |`),
        '',
      ]),
];
writeFileSync(outFile, lines.join('\n'));
