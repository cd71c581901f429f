#!/usr/bin/env node
// Transformers: int4 weight-only methods on a byte-level GPT trained by bench/gpt/train_gpt.py (Debian python3-torch)
// on /usr/share/common-licenses. Perplexity on held-out text (onnxruntime-node), file bytes, quantization time and
// peak RSS with 128 vs 512 calibration sequences (each in its own process). Writes bench/out/transformer.md.
// The trained model is cached in ~/.cache/mc/gpt-bytes/<script hash> (a few minutes of training on 2 cores).
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const outFile = path.join(here, 'out', 'transformer.md');
mkdirSync(path.dirname(outFile), { recursive: true });
const python = '/usr/bin/python3';
const script = path.join(here, 'gpt', 'train_gpt.py');
const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
const dir = process.env.MC_GPT_DIR ?? path.join(os.homedir(), '.cache', 'mc', 'gpt-bytes', hash);

const skip = (why) => {
  writeFileSync(outFile, `## Transformers (int4 methods on a trained GPT)\n\nSkipped: ${why}.\n`);
  process.stderr.write(`transformer bench skipped: ${why}\n`);
  process.exit(0);
};
if (!existsSync(path.join(dir, 'gpt.onnx'))) {
  if (spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status !== 0) skip('Debian python3-torch / python3-numpy absent (apt-get install python3-torch python3-numpy)');
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`training the GPT fixture into ${dir} ...\n`);
  execFileSync(python, [script, dir], { stdio: 'inherit' });
}

// The child measures one quantization: `node transformer.bench.mjs --child METHOD N` prints JSON.
if (process.argv[2] === '--child') {
  const [method, count, outPath, mode = 'int4', embeddings] = process.argv.slice(3);
  const dist = (p) => import(path.join(root, 'packages', p, 'dist/index.js'));
  const io = await dist('io-onnx');
  const q = await dist('quantize');
  const ds = await dist('datasets');
  const model = await io.loadOnnx(path.join(dir, 'gpt.onnx'));
  const calibration = method === 'rtn' || method === 'hqq' ? undefined : await ds.loadNamedFeeds(path.join(dir, 'calib'), ['input_ids'], { batchSize: 32, limit: Number(count) });
  const t0 = performance.now();
  const { model: out } = await q.quantize(model, { mode, blockSize: 32, method, ...(embeddings !== undefined && { embeddings }), ...(calibration !== undefined && { calibration }) });
  const seconds = (performance.now() - t0) / 1000;
  await io.saveOnnx(out, outPath);
  process.stdout.write(JSON.stringify({ seconds, rss: process.resourceUsage().maxRSS * 1024 }));
  process.exit(0);
}

spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'packages/quantize', 'packages/datasets', 'packages/verify'], { cwd: root, stdio: 'inherit' });
const dist = (p) => import(path.join(root, 'packages', p, 'dist/index.js'));
const ir = await dist('ir');
const ds = await dist('datasets');
const verify = await dist('verify');
const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'));
const valid = ds.readNpy(readFileSync(path.join(dir, 'valid', 'input_ids.npy')));
const work = path.join(os.tmpdir(), `mc-bench-transformer-${process.pid}`);
mkdirSync(work, { recursive: true });

async function ppl(file) {
  const s = await verify.createSession(file);
  const r = await ds.perplexity(async (ids, b, t) => (await s.run({ input_ids: new ir.Tensor('int64', [b, t], ids) })).logits.data, valid.data, valid.shape[0], valid.shape[1], { batchSize: 32 });
  await s.release();
  return r;
}
function child(method, count, mode = 'int4', embeddings) {
  const file = path.join(work, `${mode}-${embeddings ?? 'default'}-${method}-${count}.onnx`);
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', method, String(count), file, mode, ...(embeddings === undefined ? [] : [embeddings])], { encoding: 'utf8', cwd: root, maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`child ${method} ${count} failed: ${r.stderr}`);
  return { file, ...JSON.parse(r.stdout) };
}

const fp = await ppl(path.join(dir, 'gpt.onnx'));
const fpBytes = statSync(path.join(dir, 'gpt.onnx')).size;
const rows = [];
for (const method of ['rtn', 'hqq', 'gptq', 'awq']) {
  const c = child(method, 512);
  const p = await ppl(c.file);
  rows.push({ method, ...c, ppl: p.perplexity, bytes: statSync(c.file).size });
}
const rtnInc = rows[0].ppl - fp.perplexity;
const best = rows.filter((r) => r.method === 'gptq' || r.method === 'awq').sort((a, b) => a.ppl - b.ppl)[0];
const rss128 = child('gptq', 128);
// q4f16: int4 weights, float16 everything else; embeddings int8 GatherBlockQuantized (default) or int4
const half = [];
for (const [method, embeddings] of [['rtn', undefined], [best.method, undefined], ['rtn', 'int4'], [best.method, 'int4']]) {
  const c = child(method, 512, 'q4f16', embeddings);
  half.push({ label: `q4f16 ${method}, ${embeddings ?? 'int8'} embeddings`, ...c, ppl: (await ppl(c.file)).perplexity, bytes: statSync(c.file).size });
}
const rss512 = rows.find((r) => r.method === 'gptq');

const lines = [
  '## Transformers (int4 methods on a trained GPT)',
  '',
  `Byte-level GPT (${meta.layers} layers, d ${meta.d}, ${meta.heads} heads, context ${meta.ctx}) trained by \`bench/gpt/train_gpt.py\` with`,
  `torch ${meta.torch} for ${meta.steps} steps on /usr/share/common-licenses (${meta.train_bytes.toLocaleString('en-US')} bytes; held-out`,
  `${meta.valid_bytes.toLocaleString('en-US')} bytes from other files). Perplexity per byte on the held-out windows (${valid.shape[0]} × ${valid.shape[1] - 1} predicted bytes) in onnxruntime-node;`,
  'int4 MatMulNBits, block 32, symmetric (embeddings float32); gptq/awq calibrated on 512 training windows (`calib/input_ids.npy`).',
  'q4f16: the same int4 weights, embeddings GatherBlockQuantized (int8 or int4 blocks of 32), float16 everything else (goal: file ≤ 20 % of float32).',
  '',
  '| model | perplexity | increase | % of RTN increase | file | % of float32 | quantize s | peak RSS |',
  '|---|---|---|---|---|---|---|---|',
  `| float32 | ${fp.perplexity.toFixed(4)} | – | – | ${(fpBytes / 1024).toFixed(0)} KiB | 100 % | – | – |`,
  ...[...rows.map((r) => ({ ...r, label: `int4 ${r.method}` })), ...half].map((r) => `| ${r.label} | ${r.ppl.toFixed(4)} | ${(r.ppl - fp.perplexity >= 0 ? '+' : '') + (r.ppl - fp.perplexity).toFixed(4)} | ${(((r.ppl - fp.perplexity) / rtnInc) * 100).toFixed(0)} % | ${(r.bytes / 1024).toFixed(0)} KiB | ${((r.bytes / fpBytes) * 100).toFixed(1)} % | ${r.seconds.toFixed(1)} | ${(r.rss / 2 ** 20).toFixed(0)} MiB |`),
  '',
  `Best data-aware method: **${best.method}**, ${(((best.ppl - fp.perplexity) / rtnInc) * 100).toFixed(0)} % of round-to-nearest's perplexity increase (goal ≤ 40 %).`,
  `q4f16 file: ${((half[1].bytes / fpBytes) * 100).toFixed(1)} % of float32 with int8 embeddings, ${((half[3].bytes / fpBytes) * 100).toFixed(1)} % with int4 (goal ≤ 20 %); ${half[1].label}: perplexity +${(half[1].ppl - fp.perplexity).toFixed(4)}.`,
  `Calibration memory: gptq with 128 sequences peaks at ${(rss128.rss / 2 ** 20).toFixed(0)} MiB, with 512 at ${(rss512.rss / 2 ** 20).toFixed(0)} MiB`,
  `(${(((rss512.rss - rss128.rss) / rss128.rss) * 100).toFixed(1)} %, goal ≤ 10 %; the input statistics are K×K sums computed in onnxruntime, so no activation is held; each batch returns the upper triangle of its K×K sums in onnxruntime's output buffers (used as they are, not copied again), which wait for garbage collection, and 4× the batches leave more of them: ${((rss512.rss - rss128.rss) / 2 ** 20).toFixed(0)} MiB here).`,
  '',
];
writeFileSync(outFile, lines.join('\n'));
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${lines.join('\n')}\n`);
