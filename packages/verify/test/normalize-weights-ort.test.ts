/**
 * Weight normalisation (`normalizeWeights`: Constant nodes → initializers, Identity of an initializer → the
 * initializer) is exact: outputs bit-identical in onnxruntime-node (optimizations disabled on both sides), on a
 * built model and on third-party exports (torchvision via torch.onnx, PP-OCRv4 via Paddle2ONNX) when cached.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readOnnx, writeOnnx } from '@mc/io-onnx';
import { attr, type Model, ModelBuilder, modelStats, Node, normalizeWeights, Tensor, untieInput } from '@mc/ir';
import { countOps, randomTensor } from '@mc/ir/testing';
import { describe, expect, it } from 'vitest';
import { assertNumericallyClose, randomFeeds } from '../src/index.js';
import { ocrModel, TORCHVISION, torchvisionDir } from './third-party.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

/** A model with every form: a Constant weight, a value_floats Constant, an Identity-shared weight, an Identity output. */
function built(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [2, 8]);
  const w = b.initializer('w', randomTensor('float32', [8, 8], 1));
  const wc = b.node('Constant', [], { value: attr.tensor(randomTensor('float32', [8, 8], 2)) });
  const s = b.node('Constant', [], { value_floats: attr.floats([0.5, -1, 2, 0.25, 1, 1, 3, -2]) });
  const w1 = b.node('Identity', [w]);
  const w2 = b.node('Identity', [w1]);
  const h = b.node('MatMul', [b.node('MatMul', [x, w1]), w2]);
  const y = b.node('Mul', [b.node('MatMul', [h, wc]), s]);
  b.output(y, 'y');
  b.output(b.node('Identity', [w]), 'w_out');
  return b.build();
}

function bytes(m: Model): Uint8Array {
  return writeOnnx(m);
}

describe('normalizeWeights', () => {
  it('built model: 2 Constants and 2 Identities go, the graph-output Identity stays; bit-identical in ORT; params counted once', async () => {
    const m = built();
    const n = m.clone();
    const r = normalizeWeights(n);
    expect([r.constants, r.identities]).toEqual([2, 2]);
    expect(countOps(n)).toEqual({ MatMul: 3, Mul: 1, Identity: 1 });
    expect(r.shared.get('w')).toBe(3); // two MatMuls and the output Identity read it
    expect(modelStats(m).params).toBe(64 + 64 + 8);
    expect(modelStats(n).params).toBe(64 + 64 + 8);
    expect(
      modelStats(m)
        .nodes.filter((s) => s.params > 0)
        .map((s) => [s.opType, s.params]),
    ).toEqual([
      ['MatMul', 64],
      ['MatMul', 64],
      ['Mul', 8],
    ]);
    await assertNumericallyClose(bytes(m), bytes(n), { feeds: randomFeeds(m, 3), bitwise: true });
    expect(normalizeWeights(n).modified).toBe(false);
  });

  it('untieInput gives one reader its own copy of a shared weight and leaves a weight of its own alone', () => {
    const n = built();
    normalizeWeights(n);
    const mm = n.graph.nodes.find((x) => x.opType === 'MatMul')!;
    const before = mm.inputs[1]!;
    const own = untieInput(mm, 1)!;
    expect(own).not.toBe(before);
    expect(own.constValue).toBe(before.constValue);
    expect(own.uses()).toHaveLength(1);
    expect(untieInput(mm, 1)).toBe(own);
  });

  it('a Constant read by a subgraph by name stays a node (the capture would break)', () => {
    const b = new ModelBuilder({ opset: 17 });
    const c = b.input('c', 'bool', []);
    const k = b.node('Constant', [], { value: attr.tensor(new Tensor('float32', [1], Float32Array.of(2))) });
    const m0 = b.build();
    const sub = new ModelBuilder({ opset: 17 });
    const o = sub.node('Identity', [sub.input(k.name, 'float32', [1])]);
    sub.output(o, 'o');
    const then = sub.build().graph;
    then.inputs.length = 0;
    const iff = new Node({
      opType: 'If',
      inputs: [m0.graph.inputs.find((v) => v.name === c.name)!],
      outputs: ['y'],
      attributes: { then_branch: attr.graph(then), else_branch: attr.graph(then) },
    });
    m0.graph.append(iff);
    expect(normalizeWeights(m0).constants).toBe(0);
  });
});

const tv = torchvisionDir();
describe.skipIf(tv.why !== undefined)(
  `torchvision exports (torch.onnx, Identity-shared weights)${tv.why === undefined ? '' : ` (skipped: ${tv.why})`}`,
  () => {
    it.each(TORCHVISION.map((n) => [n]))('%s: no Identity of a weight left, params unchanged, bit-identical in ORT', async (name) => {
      const file = join(tv.dir, `${name}.onnx`);
      const orig = new Uint8Array(readFileSync(file));
      const m = readOnnx(orig, { file });
      const n = m.clone();
      const r = normalizeWeights(n);
      expect(r.identities).toBeGreaterThan(0);
      expect(n.graph.nodes.filter((x) => x.opType === 'Identity')).toEqual([]);
      expect(modelStats(n).params).toBe(modelStats(m).params);
      await assertNumericallyClose(orig, bytes(n), { feeds: randomFeeds(m, 5), bitwise: true, sessionOptions: { logSeverityLevel: 3 } });
    });
  },
);

const rec = ocrModel('ch_PP-OCRv4_rec_infer.onnx');
const det = ocrModel('ch_PP-OCRv4_det_infer.onnx');
describe.skipIf(rec.why !== undefined)(
  `PP-OCRv4 (Paddle2ONNX, every weight a Constant node)${rec.why === undefined ? '' : ` (skipped: ${rec.why})`}`,
  () => {
    // python3-onnx count: sum of element counts of all Constant `value` tensors (no initializers in these files).
    it.each([
      ['ch_PP-OCRv4_rec_infer.onnx', rec.path, 325, 2_690_312, [1, 3, 48, 320]],
      ['ch_PP-OCRv4_det_infer.onnx', det.path, 342, 1_171_841, [1, 3, 64, 64]],
    ] as const)(
      '%s: every Constant becomes an initializer, params = python3-onnx count, bit-identical in ORT',
      async (_name, file, constants, params, dims) => {
        const orig = new Uint8Array(readFileSync(file));
        const m = readOnnx(orig, { file });
        expect(modelStats(m).params).toBe(params);
        const n = m.clone();
        expect(normalizeWeights(n).constants).toBe(constants);
        expect(countOps(n).Constant).toBeUndefined();
        expect(modelStats(n).params).toBe(params);
        const feeds = { x: randomTensor('float32', dims, 9) };
        await assertNumericallyClose(orig, bytes(n), { feeds, bitwise: true, sessionOptions: { logSeverityLevel: 3 } });
      },
    );
  },
);

/** The real models in ../shared/models/onnx that onnxruntime-node loads (custom-op models left out). */
const shared = sharedPath('models/onnx');
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? (e.name === 'custom-ops' ? [] : walk(join(dir, e.name))) : e.name.endsWith('.onnx') ? [join(dir, e.name)] : [],
  );
}
const real = existsSync(shared) ? walk(shared).sort() : [];

describe.skipIf(real.length === 0)(
  `real models in ../shared/models/onnx${skipNote(real.length === 0 && (sharedAbsent('models/onnx') ?? 'no model found'))}`,
  () => {
    it.each(real.map((f) => [relative(shared, f), f]))('%s: normalised, params unchanged, bit-identical in ORT', async (_rel, file) => {
      const orig = new Uint8Array(readFileSync(file));
      const m = readOnnx(orig, { file });
      const n = m.clone();
      normalizeWeights(n);
      expect(n.graph.nodes.filter((x) => x.opType === 'Constant' && x.attributes.has('value'))).toEqual([]);
      expect(modelStats(n).params).toBe(modelStats(m).params);
      await assertNumericallyClose(orig, bytes(n), { feeds: randomFeeds(m, 7), bitwise: true, sessionOptions: { logSeverityLevel: 3 } });
    });
  },
);
