import { existsSync } from 'node:fs';
import path from 'node:path';
import { mlp } from '@mc/distill';
import { saveOnnx } from '@mc/io-onnx';
import { describe, expect, it } from 'vitest';
import { mc, shared, sharedAbsent, skipNote, tempDir } from './helpers.js';

const mnist = path.join(shared, 'data/mnist');
const have = existsSync(path.join(mnist, 'train-images-idx3-ubyte.gz'));

describe.skipIf(!have)(`mc eval / finetune / distill${skipNote(sharedAbsent('data/mnist'))}`, () => {
  it('finetune trains, checkpoints and evaluates; distill --unlabeled; eval --json; bad data dir is E_IO (exit 3)', async () => {
    const dir = tempDir();
    const student = path.join(dir, 'student.onnx');
    await saveOnnx(mlp([784, 16, 10], { seed: 3 }), student);
    const tuned = path.join(dir, 'tuned.onnx');
    const data = ['--dataset', 'mnist', '--data-dir', mnist];
    const ft = await mc('finetune', student, tuned, ...data, '--limit', '1000', '--epochs', '2', '--lr', '0.005', '--eval', '--seed', '1');
    expect(ft.err).toMatch(/epoch 2\/2: loss/);
    expect(ft.code).toBe(0);
    expect(ft.out).toMatch(/top-1 on mnist-test: \d+\.\d\d% -> \d+\.\d\d%/);
    const [before, after] = [...ft.out.matchAll(/(\d+\.\d\d)%/g)].slice(-2).map((m) => Number(m[1]));
    expect(after!).toBeGreaterThan(before! + 30);
    const ev = await mc('eval', tuned, ...data, '--limit', '500', '--json');
    expect(JSON.parse(ev.out)).toMatchObject({ total: 500, dataset: 'mnist-test' });
    const out = path.join(dir, 'distilled.onnx');
    const kd = await mc(
      'distill',
      '--teacher',
      tuned,
      '--student',
      student,
      out,
      ...data,
      '--limit',
      '1000',
      '--unlabeled',
      '--epochs',
      '1',
      '--json',
    );
    expect(kd.code).toBe(0);
    expect(JSON.parse(kd.out)).toMatchObject({ technique: 'distill', trainSamples: 1000 });
    const bad = await mc('finetune', student, path.join(dir, 'x.onnx'), '--dataset', 'mnist', '--data-dir', path.join(dir, 'nope'));
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/E_IO.*nope.*train-images-idx3-ubyte\.gz/);
    expect(existsSync(path.join(dir, 'x.onnx'))).toBe(false);
  });
});
