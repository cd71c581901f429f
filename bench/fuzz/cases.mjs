// One fuzz case = (seed model, mutation, command), all drawn from the case number, so `--case N` replays it exactly.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mutateBytes, mutateH5Config, mutateJsonText, mutateKerasZip, mutateOnnx, rng } from './mutate.mjs';

/** The commands each case runs one of (output extension chosen per case for convert). */
export const COMMANDS = ['inspect', 'convert', 'quantize', 'prune'];

function argvFor(cmd, input, out) {
  if (cmd === 'inspect') return ['inspect', input, '--json'];
  if (cmd === 'convert') return ['convert', input, out];
  if (cmd === 'quantize') return ['quantize', '--mode', 'fp16', input, out];
  return ['prune', '--sparsity', '0.5', input, out];
}

/**
 * Draws case `n` over `seeds` (from makeSeeds): returns `{n, seed, mutation, field, files, main, command, outExt}`.
 * Half the mutations are structure-aware (JSON type confusion, protobuf field edits), half byte-level.
 */
export function makeCase(seeds, n) {
  const r = rng(0x9e3779b9 ^ Math.imul(n + 1, 0x85ebca6b));
  const seed = seeds[r.int(seeds.length)];
  const files = { ...seed.files };
  const structured = r.chance(0.55);
  let mutation;
  let field = '';
  if (seed.format === 'tfjs') {
    const shards = Object.keys(files).filter((k) => k !== seed.main);
    if (!structured && shards.length > 0 && r.chance(0.3)) {
      const s = r.pick(shards);
      files[s] = mutateBytes(files[s], r);
      mutation = `bytes:${s}`;
    } else if (structured) {
      const m = mutateJsonText(new TextDecoder().decode(files[seed.main]), r);
      files[seed.main] = new TextEncoder().encode(m.text);
      mutation = 'json';
      field = m.path;
    } else {
      files[seed.main] = mutateBytes(files[seed.main], r);
      mutation = 'bytes';
    }
  } else {
    const bytes = files[seed.main];
    let out;
    if (!structured) out = { bytes: mutateBytes(bytes, r), path: '' };
    else if (seed.format === 'onnx') out = mutateOnnx(bytes, r);
    else if (seed.format === 'h5') out = mutateH5Config(bytes, r);
    else out = mutateKerasZip(bytes, r);
    files[seed.main] = out.bytes;
    mutation = structured ? (seed.format === 'onnx' ? 'protobuf' : 'json') : 'bytes';
    field = out.path;
  }
  const command = r.pick(COMMANDS);
  const outExt = command === 'convert' ? r.pick(['onnx', 'onnx', 'h5', 'keras', 'json']) : 'onnx';
  return { n, seed: seed.name, format: seed.format, mutation, field, files, main: seed.main, command, outExt };
}

/**
 * Runs one case in-process through `runCli` in a fresh temp folder; returns `{code, err}`. The folder is removed after.
 */
export async function runCase(c, runCli, tmpRoot = os.tmpdir(), { debug = false } = {}) {
  const dir = mkdtempSync(path.join(tmpRoot, 'mc-fuzz-'));
  try {
    for (const [name, bytes] of Object.entries(c.files)) writeFileSync(path.join(dir, name), bytes);
    const outDir = path.join(dir, 'out');
    mkdirSync(outDir);
    const out = path.join(outDir, c.outExt === 'json' ? 'model.json' : `out.${c.outExt}`);
    let err = '';
    const io = { out: () => {}, err: (t) => (err += `${t}\n`), isTTY: false, quiet: true };
    let code;
    try {
      code = await runCli([...argvFor(c.command, path.join(dir, c.main), out), ...(debug ? ['--debug'] : [])], io);
    } catch (e) {
      // runCli never throws; if it does, that is a bug of its own.
      code = 'throw';
      err += String(e?.stack ?? e);
    }
    return { code, err };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A one-line description of a case for reports and fixtures. */
export function describeCase(c) {
  return `case ${c.n}: ${c.command} ${c.seed} (${c.mutation}${c.field ? ` ${c.field}` : ''})${c.command === 'convert' ? ` -> .${c.outExt}` : ''}`;
}
