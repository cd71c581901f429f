#!/usr/bin/env node
// Seeded, reproducible fuzzing of the mc CLI over ONNX, .h5, .keras and TF.js inputs (needs `pnpm build` first).
//   node bench/fuzz/run.mjs --count 10000 [--start 0] [--timeout 30] [--workers 1] [--json out.json]
//   node bench/fuzz/run.mjs --case 1234          # replay one case and print its stderr
// Prints the count per exit code; exit 70, a throw out of runCli, or a case past the timeout is a finding (exit 1).
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const single = opt('case', undefined);
const start = Number(single ?? opt('start', 0));
const count = single !== undefined ? 1 : Number(opt('count', 1000));
const timeoutMs = Number(opt('timeout', 30)) * 1000;
const workers = single !== undefined ? 1 : Number(opt('workers', 1));
const jsonOut = opt('json', undefined);

const counts = new Map();
const findings = [];
let next = start;
let done = 0;
const t0 = Date.now();

function record(n, code, info) {
  counts.set(code, (counts.get(code) ?? 0) + 1);
  done++;
  if (code === 70 || code === 'throw' || code === 'timeout' || code === 'worker-exit') findings.push({ n, code, ...info });
  if (single !== undefined) process.stdout.write(`case ${n}: exit ${code} (${info.command} ${info.seed}, ${info.mutation} ${info.field ?? ''})\n${info.err ?? ''}\n`);
  else if (done % 500 === 0) process.stderr.write(`fuzz: ${done}/${count} cases, ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

function startWorker() {
  return new Promise((resolve) => {
    const w = fork(path.join(here, 'worker.mjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, ORT_DISABLE_TELEMETRY: process.env.ORT_DISABLE_TELEMETRY ?? '1' } });
    let current;
    let currentInfo = {};
    let timer;
    const sendNext = () => {
      if (next >= start + count) {
        w.kill();
        resolve();
        return;
      }
      current = next++;
      timer = setTimeout(() => {
        record(current, 'timeout', { ...currentInfo, err: `no result after ${timeoutMs / 1000} s` });
        current = undefined;
        w.removeAllListeners('exit');
        w.kill('SIGKILL');
        startWorker().then(resolve);
      }, timeoutMs);
      w.send({ n: current });
    };
    w.on('message', (m) => {
      if (m.ready) return sendNext();
      if (m.start !== undefined) {
        currentInfo = m;
        return;
      }
      clearTimeout(timer);
      current = undefined;
      record(m.n, m.code, m);
      sendNext();
    });
    w.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (current !== undefined) {
        record(current, 'worker-exit', { ...currentInfo, err: `worker died (code ${code}, signal ${signal})` });
        current = undefined;
        startWorker().then(resolve);
      } else if (next < start + count) startWorker().then(resolve);
    });
  });
}

await Promise.all(Array.from({ length: workers }, startWorker));
const secs = (Date.now() - t0) / 1000;
if (single === undefined) {
  const keys = [...counts.keys()].sort((a, b) => String(a).localeCompare(String(b), 'en', { numeric: true }));
  process.stdout.write(`fuzz: ${done} cases (${start}..${start + count - 1}) in ${secs.toFixed(0)} s\n`);
  for (const k of keys) process.stdout.write(`  exit ${k}: ${counts.get(k)}\n`);
  for (const f of findings) process.stdout.write(`FINDING case ${f.n}: ${f.code} ${f.command ?? ''} ${f.seed ?? ''} ${f.mutation ?? ''} ${f.field ?? ''}\n  ${(f.err ?? '').split('\n').slice(0, 3).join('\n  ')}\n`);
}
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ start, count, seconds: secs, counts: Object.fromEntries(counts), findings }, null, 2));
process.exit(findings.length > 0 ? 1 : 0);
