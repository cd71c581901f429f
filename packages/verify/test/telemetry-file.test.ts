/**
 * onnxruntime-node 1.30 (Linux) creates an empty /tmp/mat-debug-<pid>.log from its telemetry client when the first
 * session starts; mc sets ORT_DISABLE_TELEMETRY before creating sessions so none is left behind.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const ortEntry = createRequire(path.join(here, '../package.json')).resolve('onnxruntime-node');
const debugLog = (pid: number) => `/tmp/mat-debug-${pid}.log`;

describe.skipIf(process.platform !== 'linux')('no /tmp/mat-debug-<pid>.log from onnxruntime-node', () => {
  it('a plain onnxruntime-node session without ORT_DISABLE_TELEMETRY creates the file (the behaviour mc avoids)', (ctx) => {
    const script = `const ort = require(${JSON.stringify(ortEntry)});
      const b = Buffer.from(${JSON.stringify(Buffer.from(new Uint8Array([8, 8, 58, 5, 10, 3, 10, 1, 120])).toString('base64'))}, 'base64');
      ort.InferenceSession.create(b).catch(() => {}).finally(() => { console.log(process.pid); });`;
    const env = { ...process.env };
    delete env.ORT_DISABLE_TELEMETRY;
    const r = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    const pid = Number(r.stdout.trim().split('\n').pop());
    expect(Number.isInteger(pid)).toBe(true);
    const made = existsSync(debugLog(pid));
    rmSync(debugLog(pid), { force: true }); // made by our own child process
    // The telemetry client does not start in every environment (seen: not under CI's environment); then there is
    // nothing to show here, and the test below still checks that mc's own sessions leave no file.
    if (!made) ctx.skip('this environment starts no onnxruntime telemetry client, so no file to avoid');
    expect(made).toBe(true);
  });

  // In a fresh process: a vitest worker runs several test files, and another file's direct onnxruntime session may
  // already have started the telemetry client in it.
  const dist = path.join(here, '../dist/index.js');
  const irDist = path.join(here, '../../ir/dist/index.js');
  it.skipIf(!existsSync(dist) || !existsSync(irDist))(
    `runModel sets ORT_DISABLE_TELEMETRY and leaves no file for its process${existsSync(dist) ? '' : ' (skipped: packages/verify/dist is not built; run tsc -b)'}`,
    () => {
      const script = `const { runModel } = await import(${JSON.stringify(dist)});
        const { ModelBuilder, Tensor } = await import(${JSON.stringify(irDist)});
        const b = new ModelBuilder({ opset: 17 });
        b.output(b.node('Relu', [b.input('x', 'float32', [2])]), 'y');
        const out = await runModel(b.build(), { x: new Tensor('float32', [2], new Float32Array([-1, 2])) });
        console.log(JSON.stringify({ pid: process.pid, y: Array.from(out.y.data), env: process.env.ORT_DISABLE_TELEMETRY }));`;
      const env = { ...process.env };
      delete env.ORT_DISABLE_TELEMETRY;
      const started = Date.now();
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
      const got = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { pid: number; y: number[]; env: string | undefined };
      expect(got.y).toEqual([0, 2]);
      expect(got.env).toBeDefined();
      // a file left by an earlier process with the same pid is older than this child
      const file = debugLog(got.pid);
      const made = existsSync(file) && statSync(file).mtimeMs >= started - 1000;
      if (made) rmSync(file, { force: true });
      expect(made).toBe(false);
    },
  );
});
