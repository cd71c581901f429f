import { McError, ModelBuilder, printModel, Tensor } from '@mc/ir';
import { randomTensor } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { prune } from '../src/index.js';
import { mlp } from './models.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return McError.is(e) ? e.code : `not an McError: ${String(e)}`;
  }
}

describe('bad input: coded errors or an explicit nothing-to-prune report, input untouched', () => {
  it('sparsity / ratio outside [0, 1) and malformed options are E_OPTION', async () => {
    const model = mlp();
    for (const sparsity of [1, -0.1, Number.NaN, 1.5]) expect(await code(prune(model, { mode: 'magnitude', sparsity }))).toBe('E_OPTION');
    expect(await code(prune(model, { mode: 'magnitude' }))).toBe('E_OPTION');
    expect(await code(prune(model, { mode: 'magnitude', nm: [4, 4] }))).toBe('E_OPTION');
    expect(await code(prune(model, { mode: 'magnitude', nm: [2, 4], sparsity: 0.9 }))).toBe('E_OPTION');
    expect(await code(prune(model, { mode: 'channels', ratio: 1 }))).toBe('E_OPTION');
    expect(await code(prune(model, { mode: 'channels', ratio: 0.5, importance: 'l3' as 'l1' }))).toBe('E_OPTION');
    expect(await code(prune(model, { mode: 'other' } as never))).toBe('E_OPTION');
  });

  it('a group with inconsistent shapes (BN with 6 params after an 8-channel conv) is E_FORMAT naming the node', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 3, 4, 4]);
    const c = b.node('Conv', [x, b.initializer('w', randomTensor('float32', [8, 3, 1, 1], 1))], {}, { name: 'conv' });
    const p = ['g', 'b', 'm', 'v'].map((n, i) => b.initializer(n, randomTensor('float32', [6], i + 2)));
    const y = b.node('BatchNormalization', [c, ...p], {}, { name: 'bn' });
    b.output(b.node('Conv', [y, b.initializer('w2', randomTensor('float32', [4, 8, 1, 1], 9))], {}, { name: 'conv2' }), 'y');
    const model = b.build();
    const text = printModel(model);
    const err = await prune(model, { mode: 'channels', ratio: 0.5 }).catch((e: unknown) => e);
    expect(McError.is(err) && err.code).toBe('E_FORMAT');
    expect((err as McError).context.node).toBe('bn');
    expect((err as Error).message).toMatch(/6 values for 8 channels/);
    expect(printModel(model)).toBe(text);
  });

  it('a model with no prunable layer gives an explicit nothing-to-prune report and an equal copy', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 4]);
    b.output(b.node('Relu', [b.node('Add', [x, b.initializer('c', new Tensor('float32', [4], new Float32Array(4)))])]), 'y');
    const model = b.build();
    for (const opts of [
      { mode: 'magnitude', sparsity: 0.5 },
      { mode: 'channels', ratio: 0.5 },
    ] as const) {
      const { model: out, report } = await prune(model, opts);
      expect(report.nothingToPrune).toMatch(/^nothing to prune/);
      expect(printModel(out)).toBe(printModel(model));
    }
  });

  it('a model whose only layer feeds the output: channel groups left alone with the reason', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [2, 4]);
    b.output(b.node('Gemm', [x, b.initializer('w', randomTensor('float32', [4, 3], 1))], {}, { name: 'fc' }), 'y');
    const { report } = await prune(b.build(), { mode: 'channels', ratio: 0.5 });
    expect(report.nothingToPrune).toMatch(/every channel group is left alone.*graph output 'y' keeps its shape/);
    expect(report.groups[0]!.reasons).toEqual(["graph output 'y' keeps its shape"]);
  });

  it('a non-finite weight is E_NUMERIC', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 2]);
    b.output(
      b.node('MatMul', [x, b.initializer('w', new Tensor('float32', [2, 2], new Float32Array([1, Number.NaN, 2, 3])))], {}, { name: 'mm' }),
      'y',
    );
    expect(await code(prune(b.build(), { mode: 'magnitude', sparsity: 0.5 }))).toBe('E_NUMERIC');
  });
});
