// A fuzz worker process: builds the seeds once, then runs the cases its parent (run.mjs) sends, one at a time, through
// the built CLI's runCli in-process. The parent kills and replaces it when a case runs past the per-case timeout.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCase, runCase } from './cases.mjs';
import { makeSeeds } from './seeds.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { runCli } = await import(path.join(root, 'apps/cli/dist/cli.js'));
const quiet = { out: () => {}, err: () => {}, isTTY: false, quiet: true };
const seedDir = path.join(os.tmpdir(), `mc-fuzz-seeds-${process.pid}`);
const seeds = await makeSeeds(seedDir, (argv) => runCli(argv, quiet), { shared: process.env.MC_FUZZ_NO_SHARED !== '1' });
process.send({ ready: true, seeds: seeds.map((s) => s.name) });
process.on('message', async ({ n }) => {
  const c = makeCase(seeds, n);
  process.send({ start: n, seed: c.seed, command: c.command, mutation: c.mutation, field: c.field, outExt: c.outExt });
  const t0 = Date.now();
  const { code, err } = await runCase(c, runCli, os.tmpdir(), { debug: process.env.MC_FUZZ_DEBUG === '1' });
  process.send({ n, code, ms: Date.now() - t0, err: code === 0 ? '' : err.slice(0, 2000), seed: c.seed, command: c.command, mutation: c.mutation, field: c.field, outExt: c.outExt });
});
