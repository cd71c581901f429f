#!/usr/bin/env node
// Transformers: structured pruning of attention heads and MLP neurons on the byte-level GPT of bench/gpt/train_gpt.py
// (the model transformer.bench.mjs trains and caches). Perplexity on the held-out windows, MACs at the trained context
// (modelStats), parameters and latency in onnxruntime-node (median of interleaved runs), before and after 2 epochs of
// distillation from the unpruned model (distillLm on the 512 training windows). Writes bench/out/transformer-heads.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const outFile = path.join(here, 'out', 'transformer-heads.md');
mkdirSync(path.dirname(outFile), { recursive: true });
const python = '/usr/bin/python3';
const script = path.join(here, 'gpt', 'train_gpt.py');
const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
const dir = process.env.MC_GPT_DIR ?? path.join(os.homedir(), '.cache', 'mc', 'gpt-bytes', hash);
const title = '## Transformers (attention heads and MLP neurons pruned)';

if (!existsSync(path.join(dir, 'gpt.onnx'))) {
  if (spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status !== 0) {
    writeFileSync(outFile, `${title}\n\nSkipped: Debian python3-torch / python3-numpy absent (apt-get install python3-torch python3-numpy).\n`);
    process.exit(0);
  }
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`training the GPT fixture into ${dir} ...\n`);
  execFileSync(python, [script, dir], { stdio: 'inherit' });
}

spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/prune', 'packages/distill', 'packages/datasets', 'packages/verify', 'packages/io-onnx'], { cwd: root, stdio: 'inherit' });
const dist = (p) => import(path.join(root, 'packages', p, 'dist/index.js'));
const ir = await dist('ir');
const io = await dist('io-onnx');
const pr = await dist('prune');
const di = await dist('distill');
const ds = await dist('datasets');
const verify = await dist('verify');
const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'));
const valid = ds.readNpy(readFileSync(path.join(dir, 'valid', 'input_ids.npy')));
const calib = ds.readNpy(readFileSync(path.join(dir, 'calib', 'input_ids.npy')));
const work = path.join(os.tmpdir(), `mc-bench-heads-${process.pid}`);
mkdirSync(work, { recursive: true });

async function ppl(file) {
  const s = await verify.createSession(file);
  const r = await ds.perplexity(async (ids, b, t) => (await s.run({ input_ids: new ir.Tensor('int64', [b, t], ids) })).logits.data, valid.data, valid.shape[0], valid.shape[1], { batchSize: 32 });
  await s.release();
  return r.perplexity;
}

/**
 * Latency of one [1, ctx] forward per model: 7 rounds; in each, the sessions run alternately (so they see the same
 * machine load) and each model's median over 100 runs is taken; the figure is the median round, per model and per
 * ratio to the first model.
 */
async function latencies(files, rounds = 7, runs = 100) {
  const sessions = await Promise.all(files.map((f) => verify.createSession(f)));
  const ids = new ir.Tensor('int64', [1, meta.ctx], BigInt64Array.from({ length: meta.ctx }, (_, i) => BigInt((i * 37) % 256)));
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const perRound = [];
  for (let round = 0; round < rounds; round++) {
    const times = files.map(() => []);
    for (let r = -10; r < runs; r++) {
      for (const [i, s] of sessions.entries()) {
        const t0 = performance.now();
        await s.run({ input_ids: ids });
        if (r >= 0) times[i].push(performance.now() - t0);
      }
    }
    perRound.push(times.map(med));
  }
  for (const s of sessions) await s.release();
  return files.map((_, i) => ({ ms: med(perRound.map((t) => t[i])), ratio: med(perRound.map((t) => t[i] / t[0])) }));
}

const original = path.join(dir, 'gpt.onnx');
const model = await io.loadOnnx(original);
const shapes = { inputShapes: { input_ids: [1, meta.ctx] } };
const base = ir.modelStats(model, shapes);
const rows = [];
for (const ratio of [0.25, 0.5]) {
  const t0 = performance.now();
  const { model: out, report } = await pr.prune(model, { mode: 'channels', ratio });
  const seconds = (performance.now() - t0) / 1000;
  const file = path.join(work, `heads-${ratio}.onnx`);
  await io.saveOnnx(out, file);
  const heads = report.groups.filter((g) => g.headSize !== undefined);
  const neurons = report.groups.filter((g) => g.headSize === undefined && g.removed > 0);
  const st = ir.modelStats(out, shapes);
  const d0 = performance.now();
  const { model: distilled, report: dr } = await di.distillLm(model, out, { data: calib.data, count: calib.shape[0], width: calib.shape[1] }, { epochs: 2, batchSize: 16, learningRate: 1e-3 });
  const distillSeconds = (performance.now() - d0) / 1000;
  const dfile = path.join(work, `heads-${ratio}-distilled.onnx`);
  await io.saveOnnx(distilled, dfile);
  rows.push({ ratio, file, seconds, st, heads, neurons, ppl: await ppl(file), dppl: await ppl(dfile), distillSeconds, steps: dr.steps });
}
const fp = await ppl(original);
const lat = await latencies([original, ...rows.map((r) => r.file)]);
const pct = (a, b) => `${((a / b) * 100).toFixed(1)} %`;
const lines = [
  title,
  '',
  `The GPT of the transformer section (${meta.layers} layers, d ${meta.d}, ${meta.heads} heads of ${meta.d / meta.heads}, MLP ${meta.ff}, context ${meta.ctx}).`,
  '`prune(model, { mode: \'channels\', ratio })` (`mc prune --channels R`): every head group (Q/K/V of a block, with its',
  'output projection and both Reshapes of the head split) and every MLP group (up/down) loses `ratio` of its heads or neurons,',
  'ranked by the L1 norm of the Q/K/V (up) output columns. The residual stream (LayerNorm, embeddings) keeps its width.',
  'Perplexity per byte on the held-out windows; MACs by `modelStats` at sequence ' + meta.ctx + '; latency of a [1, ' + meta.ctx + '] forward in',
  `onnxruntime-node: 7 rounds of 100 alternating runs, median per round, median round (ratio: median of the per-round ratios). Recovery: \`distillLm\` (onnxruntime engine), 2 epochs over the ${calib.shape[0]} training windows`,
  `(batch 16, Adam 1e-3 cosine, loss ½·KL to the unpruned model's logits + ½·next-token cross-entropy).`,
  '',
  '| model | heads | MLP neurons | perplexity pruned | change | after 2 epochs distillation | change | MACs | params | latency |',
  '|---|---|---|---|---|---|---|---|---|---|',
  `| original | ${meta.layers} × ${meta.heads} | ${meta.layers} × ${meta.ff} | ${fp.toFixed(4)} | – | – | – | ${(base.macs / 1e6).toFixed(2)} M | ${base.params.toLocaleString('en-US')} | ${lat[0].ms.toFixed(3)} ms |`,
  ...rows.map((r, i) => {
    const h = r.heads.map((g) => g.channels - g.removed).join(' + ');
    const n = r.neurons.map((g) => g.channels - g.removed).join(' + ');
    return `| ${r.ratio * 100} % removed | ${h} | ${n} | ${r.ppl.toFixed(4)} | ${(((r.ppl - fp) / fp) * 100).toFixed(1)} % | ${r.dppl.toFixed(4)} | ${(((r.dppl - fp) / fp) * 100).toFixed(1)} % | ${(r.st.macs / 1e6).toFixed(2)} M (${pct(r.st.macs, base.macs)}) | ${r.st.params.toLocaleString('en-US')} (${pct(r.st.params, base.params)}) | ${lat[i + 1].ms.toFixed(3)} ms (${(lat[i + 1].ratio * 100).toFixed(1)} %) |`;
  }),
  '',
  `Pruning takes ${rows[0].seconds.toFixed(2)} s; distillation ${rows[0].distillSeconds.toFixed(1)} s (${rows[0].steps} steps). Goal: 25 % removed + 2 epochs within 10 % of the original`,
  `perplexity: ${rows[0].dppl <= fp * 1.1 ? 'met' : 'not met'} (${(((rows[0].dppl - fp) / fp) * 100).toFixed(1)} %). A forward of this 0.28 M-parameter model takes well under a millisecond, so per-node overhead weighs and the latency ratio moves by several points between runs.`,
  '',
];
writeFileSync(outFile, lines.join('\n'));
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${lines.join('\n')}\n`);
