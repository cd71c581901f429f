import { countOps, randomFeeds } from '@mc/ir/testing';
import { McError, ModelBuilder, printModel, Tensor } from '@mc/ir';
import { assertNumericallyClose } from '@mc/verify';
import { describe, expect, it } from 'vitest';
import { factorize } from '../src/index.js';
import { conv1d, convnet, mlp } from './models.js';

describe('factorize: exactness at full rank in onnxruntime-node', () => {
  for (const [name, make, full] of [
    ['mlp (MatMul, Gemm transB alpha beta)', mlp, 48],
    ['convnet (strides, pads, auto_pad)', convnet, 16],
    ['conv1d', conv1d, 24],
  ] as const) {
    it(`${name}: full ranks match the original to 1e-5`, async () => {
      const model = make();
      const text = printModel(model);
      const { model: out, report } = await factorize(model, { rank: full, onlyIfSmaller: false });
      expect(printModel(model)).toBe(text); // input untouched
      expect(report.nodes.filter((n) => n.replaced).length).toBeGreaterThan(0);
      await assertNumericallyClose(model, out, { feeds: [randomFeeds(model, 1), randomFeeds(model, 2)], atol: 1e-5, rtol: 1e-5 });
    });
  }
});

describe('factorize: error policy', () => {
  it('mlp at error 0.3: layers meet the bound, fewer params, runs in ORT with cos ≥ 0.9', async () => {
    const model = mlp();
    const { model: out, report } = await factorize(model, { error: 0.3 });
    const fc1 = report.nodes.find((n) => n.node === 'fc1')!;
    expect(fc1.replaced).toBe(true);
    expect(fc1.weightError).toBeLessThanOrEqual(0.3);
    expect(fc1.decomposition).toBe('exact');
    expect(report.after.params).toBeLessThan(report.before.params);
    expect(countOps(out).MatMul).toBe(2);
    await assertNumericallyClose(model, out, { feeds: randomFeeds(model, 3), minCosine: 0.9 });
  });

  it('convnet at error 0.5: Tucker-2 chain, grouped conv passed through with a reason', async () => {
    const model = convnet();
    const { model: out, report } = await factorize(model, { error: 0.5 });
    expect(report.passedThrough).toEqual([{ node: 'grouped', opType: 'Conv', reason: expect.stringContaining('grouped conv') }]);
    const replaced = report.nodes.filter((n) => n.replaced);
    expect(replaced.length).toBeGreaterThan(0);
    for (const n of replaced) {
      expect(n.weightError).toBeLessThanOrEqual(0.5);
      expect(n.paramsAfter).toBeLessThan(n.paramsBefore);
    }
    await assertNumericallyClose(model, out, { feeds: randomFeeds(model, 4), minCosine: 0.8 });
  });

  it('error 0 keeps every layer: the output equals the input and the report says so', async () => {
    const model = mlp();
    const { model: out, report } = await factorize(model, { error: 0 });
    expect(printModel(out)).toBe(printModel(model));
    expect(report.warnings.some((w) => w.message.includes('output equals the input'))).toBe(true);
  });

  it('other policies: energy and ratio run and shrink the model', async () => {
    const model = convnet();
    const e = await factorize(model, { energy: 0.9 });
    expect(e.report.after.params).toBeLessThan(e.report.before.params);
    const r = await factorize(mlp(), { ratio: 0.5 });
    expect(r.report.after.params).toBeLessThanOrEqual(0.5 * r.report.before.params);
    await assertNumericallyClose(model, e.model, { feeds: randomFeeds(model, 5), minCosine: 0.5 });
  });
});

describe('factorize: bad input fails before any work with a code', () => {
  const codeOf = async (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e) => (McError.is(e) ? e.code : String(e)),
    );
  it.each([[{ error: -1 }], [{ error: Number.NaN }], [{ ratio: 0 }], [{ energy: 2 }], [{ rank: 1.5 }], [{ error: 0.1, rank: 3 }]])(
    '%o → E_OPTION',
    async (opts) => {
      expect(await codeOf(factorize(mlp(), opts as never))).toBe('E_OPTION');
    },
  );
  it('rank larger than any layer allows → E_OPTION', async () => {
    expect(await codeOf(factorize(mlp(), { rank: 65 }))).toBe('E_OPTION');
  });
  it('NaN weights → E_NUMERIC naming the node; input untouched', async () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', [1, 4]);
    const w = new Float32Array(12).fill(1);
    w[5] = Number.NaN;
    b.output(b.node('MatMul', [x, b.initializer('w', new Tensor('float32', [4, 3], w))], {}, { name: 'bad' }), 'y');
    const model = b.build();
    const before = printModel(model);
    const err = await factorize(model, { error: 0.1 }).catch((e: unknown) => e);
    expect(McError.is(err) && err.code === 'E_NUMERIC' && err.context.node === 'bad').toBe(true);
    expect(printModel(model)).toBe(before);
  });
  it('a model without factorisable layers comes back equal with a report line', async () => {
    const b = new ModelBuilder({ opset: 17 });
    b.output(b.node('Relu', [b.input('x', 'float32', [1, 4])]), 'y');
    const model = b.build();
    const { model: out, report } = await factorize(model);
    expect(printModel(out)).toBe(printModel(model));
    expect(report.warnings[0]?.message).toMatch(/no factorisable layer/);
  });
  it('an aborted signal stops with AbortError', async () => {
    await expect(factorize(mlp(), { error: 0.1, signal: AbortSignal.abort() })).rejects.toThrow();
  });
});
