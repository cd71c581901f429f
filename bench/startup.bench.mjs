#!/usr/bin/env node
// Start-up time of the CLI against Node's own: `node -e 0`, `mc --version`, `mc --help` and `mc inspect` of the bundled
// default model, each a fresh process, in interleaved rounds (one run of each per round, so a burst of load from
// elsewhere hits every case alike); medians and the ratio to `node -e 0` (goal: at most 3×). Also lists which heavy
// dependencies each command loaded (none of onnxruntime, tfjs for these). Writes bench/out/startup.md.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const outFile = path.join(here, 'out/startup.md');
mkdirSync(path.dirname(outFile), { recursive: true });
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: root, stdio: 'inherit' });
if (tsc.status !== 0) throw new Error('tsc -b failed');
const main = path.join(root, 'apps/cli/dist/main.js');
const model = path.join(root, 'examples/models/mnist-mlp.onnx');
const ROUNDS = Number(process.env.MC_STARTUP_ROUNDS ?? 15);
const cases = [
  { name: '`node -e 0`', args: ['-e', '0'] },
  { name: '`mc --version`', args: [main, '--version'] },
  { name: '`mc --help`', args: [main, '--help'] },
  { name: '`mc inspect examples/models/mnist-mlp.onnx`', args: [main, 'inspect', model] },
  { name: '`mc quantize --help` (loads the command and its libraries)', args: [main, 'quantize', '--help'], info: true },
  { name: '`mc finetune --help` (a training command: tfjs too)', args: [main, 'finetune', '--help'], info: true },
];
const run = (args) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
};
// Heavy modules a command loads, seen by a CommonJS require hook in the child (onnxruntime-node and tfjs are CommonJS).
const heavy = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?(onnxruntime-node|onnxruntime-web|@tensorflow\/[^/]+|protobufjs|h5wasm)\//;
const hook = `process.on('exit',()=>{const s=new Set();for(const f of Object.keys(require.cache)){const m=${heavy}.exec(f.replaceAll('\\\\','/'));if(m)s.add(m[1]);}process.stderr.write('HEAVY '+[...s].sort().join(',')+'\\n');});`;
const hookFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'mc-bench-startup-')), 'hook.cjs');
writeFileSync(hookFile, hook);
const loaded = (args) => {
  const r = spawnSync(process.execPath, ['--require', hookFile, ...args], { cwd: root, encoding: 'utf8' });
  const m = /HEAVY (.*)/.exec(r.stderr ?? '');
  return m === null ? '?' : m[1] || 'none';
};
const load0 = os.loadavg();
for (const c of cases) run(c.args); // warm the file cache
const times = cases.map(() => []);
for (let r = 0; r < ROUNDS; r++) cases.forEach((c, i) => times[i].push(run(c.args)));
const load1 = os.loadavg();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = times.map(median);
const rows = cases.map((c, i) => {
  const ratio = med[i] / med[0];
  const goal = i === 0 || c.info ? '' : ratio <= 3 ? ' (≤ 3×)' : ' (over 3×)';
  const lo = Math.min(...times[i]);
  const hi = Math.max(...times[i]);
  return `| ${c.name} | ${med[i].toFixed(0)} | ${lo.toFixed(0)}–${hi.toFixed(0)} | ${ratio.toFixed(2)}×${goal} | ${i === 0 ? '–' : loaded(c.args)} |`;
});
const lines = [
  '## Start-up',
  '',
  `Wall time of a fresh process, from spawn to exit: ${ROUNDS} interleaved rounds after one warm-up run each; median and range in ms, ratio of medians to \`node -e 0\` (goal of the scale issue: \`mc --version\` and \`mc inspect\` of a small model within 3×). Load average (1 min) ${load0[0].toFixed(2)} before, ${load1[0].toFixed(2)} after, on ${os.cpus().length} cores shared with other work, so single runs are noisy. Commands are listed without loading their modules; a command's libraries load only when it runs or prints its own help (onnxruntime-node for the commands that run models, tfjs only for those that train). "Heavy modules" lists what the process loaded of onnxruntime-node/-web, tfjs, protobufjs and h5wasm.`,
  '',
  '| command | median ms | range ms | ratio | heavy modules loaded |',
  '|---|---|---|---|---|',
  ...rows,
  '',
];
writeFileSync(outFile, lines.join('\n'));
process.stdout.write(`${lines.join('\n')}\n`);
