import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, skipNote, tempDir } from './helpers.js';

// Start-up loads heavy dependencies only for the commands that need them: the built binary runs in a child with a
// preloaded hook that lists, at exit, the heavy packages the process loaded (onnxruntime-node and tfjs are CommonJS,
// so every one of their files passes through require.cache, also when imported from ESM).
const main = path.join(repoRoot, 'apps/cli/dist/main.js');
const built = existsSync(main);
const model = path.join(repoRoot, 'examples/models/mnist-mlp.onnx');
const HEAVY = String.raw`/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?(onnxruntime-node|onnxruntime-web|@tensorflow\/[^/]+|protobufjs|h5wasm)\//`;

function loadedBy(argv: string[]): { code: number | null; heavy: string[]; out: string } {
  const hook = path.join(tempDir(), 'hook.cjs');
  writeFileSync(
    hook,
    `process.on('exit', () => {
      const seen = new Set();
      for (const f of Object.keys(require.cache)) { const m = ${HEAVY}.exec(f.replaceAll('\\\\', '/')); if (m) seen.add(m[1]); }
      process.stderr.write('\\nHEAVY ' + JSON.stringify([...seen].sort()) + '\\n');
    });`,
  );
  const r = spawnSync(process.execPath, ['--require', hook, main, ...argv], { cwd: tempDir(), encoding: 'utf8' });
  const line = /\nHEAVY (.*)\n/.exec(r.stderr);
  expect(line, r.stderr).not.toBeNull();
  return { code: r.status, heavy: JSON.parse(line![1]!) as string[], out: r.stdout };
}

describe.skipIf(!built)(`start-up of the mc binary${skipNote(!built && 'apps/cli/dist/main.js is not built (pnpm build)')}`, () => {
  it.each(['--version', '-V', '--help', 'help', 'inspect MODEL', 'inspect --json MODEL', 'inspect --help'])(
    'mc %s (MODEL: the bundled mnist-mlp.onnx) loads neither onnxruntime nor tfjs',
    (line) => {
      const argv = line.split(' ').map((a) => (a === 'MODEL' ? model : a));
      const r = loadedBy(argv);
      expect(r.code).toBe(0);
      expect(r.out.length).toBeGreaterThan(0);
      expect(r.heavy.filter((h) => /onnxruntime|tensorflow/.test(h))).toEqual([]);
      // inspect parses ONNX with protobufjs; the others load nothing heavy at all.
      expect(r.heavy).toEqual(argv[0] === 'inspect' && argv.includes(model) ? ['protobufjs'] : []);
    },
  );

  it('control: a command that runs models (quantize) does load onnxruntime-node, so the hook sees it; tfjs only for training', () => {
    const r = loadedBy(['quantize', '--help']);
    expect(r.code).toBe(0);
    expect(r.heavy).toContain('onnxruntime-node');
    expect(r.heavy.filter((h) => h.startsWith('@tensorflow/'))).toEqual([]);
    const train = loadedBy(['finetune', '--help']);
    expect(train.code).toBe(0);
    expect(train.heavy).toContain('@tensorflow/tfjs-core');
  });
});
