import { describe, expect, it } from 'vitest';
import { float32Tensor, inferShapes, int64Tensor, McError, type Model, ModelBuilder, modelStats, Value } from '../src/index.js';

const D = 32;
const H = 4;

/**
 * One attention block as torch.onnx writes it: Shape → Gather → Unsqueeze → Concat → Reshape to split heads, batched
 * MatMuls, a causal mask sliced to the sequence, Softmax, LayerNormalization, GELU by Erf, and a final Flatten.
 */
function attention(): Model {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', ['batch', 'sequence', D]);
  const c = (name: string, v: number[], dims = [v.length]) => b.initializer(name, int64Tensor(dims, v));
  const ln = b.node(
    'LayerNormalization',
    [x, b.initializer('g', float32Tensor([D], new Float32Array(D).fill(1))), b.initializer('bt', float32Tensor([D], new Float32Array(D)))],
    { axis: -1 },
  );
  const shape = b.node('Shape', [ln]);
  const bsz = b.node('Unsqueeze', [b.node('Gather', [shape, c('i0', [0], [])], { axis: 0 }), c('ax0', [0])]);
  const seq0 = b.node('Gather', [shape, c('i1', [1], [])], { axis: 0 });
  const seq = b.node('Unsqueeze', [seq0, c('ax0b', [0])]);
  const heads = b.node('Concat', [bsz, seq, c('h', [H]), c('m1', [-1])], { axis: 0 });
  const proj = (name: string) => b.node('MatMul', [ln, b.initializer(name, float32Tensor([D, D], new Float32Array(D * D).fill(0.01)))]);
  const split = (v: ReturnType<typeof proj>, perm: number[]) => b.node('Transpose', [b.node('Reshape', [v, heads])], { perm });
  const q = split(proj('wq'), [0, 2, 1, 3]);
  const k = split(proj('wk'), [0, 2, 3, 1]);
  const v = split(proj('wv'), [0, 2, 1, 3]);
  const scores = b.node('MatMul', [q, k]);
  const mask = b.node('Trilu', [b.initializer('ones', float32Tensor([1, 1, 64, 64], new Float32Array(64 * 64).fill(1)))], { upper: 0 });
  const end = b.node('Cast', [seq], { to: 7 });
  const sliced = b.node('Slice', [b.node('Slice', [mask, c('z', [0]), end, c('a2', [2])]), c('z2', [0]), end, c('a3', [3])]);
  const masked = b.node('Where', [
    b.node('Equal', [sliced, b.initializer('zero', float32Tensor([], [0]))]),
    b.initializer('ninf', float32Tensor([], [-1e9])),
    scores,
  ]);
  const att = b.node('MatMul', [b.node('Softmax', [masked], { axis: -1 }), v]);
  const merged = b.node('Reshape', [
    b.node('Transpose', [att], { perm: [0, 2, 1, 3] }),
    b.node('Concat', [bsz, seq, c('d', [D])], { axis: 0 }),
  ]);
  const gelu = b.node('Mul', [merged, b.node('Erf', [merged])]);
  const pos = b.node('Range', [c('r0', [0], []), seq0, c('r1', [1], [])]);
  b.output(b.node('Flatten', [gelu], { axis: 2 }), 'y');
  b.output(pos, 'positions');
  return b.build();
}

const shapeOf = (m: Model, pred: (op: string) => boolean, i = 0) => m.graph.nodes.filter((n) => pred(n.opType))[i]!.outputs[0]!.shape;

describe('shape inference with symbolic dims', () => {
  it('keeps batch and sequence through Shape→Gather→Concat→Reshape, Transpose, batched MatMul, Slice, Where, Range', () => {
    const m = attention();
    inferShapes(m);
    expect(shapeOf(m, (o) => o === 'Reshape')).toEqual(['batch', 'sequence', H, D / H]);
    expect(shapeOf(m, (o) => o === 'MatMul', 3)).toEqual(['batch', H, 'sequence', 'sequence']);
    expect(shapeOf(m, (o) => o === 'Slice', 1)).toEqual([1, 1, 'sequence', 'sequence']);
    expect(shapeOf(m, (o) => o === 'Where')).toEqual(['batch', H, 'sequence', 'sequence']);
    expect(shapeOf(m, (o) => o === 'Softmax')).toEqual(['batch', H, 'sequence', 'sequence']);
    expect(m.graph.outputs.map((o) => o.shape)).toEqual([['batch*sequence', D], ['sequence']]);
  });

  it('Flatten and Reshape -1 derive expressions', () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['batch', 'sequence', 8]);
    const f = b.node('Flatten', [x], { axis: 2 });
    b.output(b.node('Reshape', [f, b.initializer('s', int64Tensor([3], [0, -1, 4]))]), 'y');
    b.output(b.node('Concat', [x, x], { axis: 1 }), 'z');
    const m = b.build();
    inferShapes(m);
    expect(f.shape).toEqual(['batch*sequence', 8]);
    expect(m.graph.outputs.map((o) => o.shape)).toEqual([
      ['batch*sequence', 2, 4],
      ['batch', '2*sequence', 8],
    ]);
  });

  it("a KV cache concat gives 'past + sequence'; torch's expand pattern (ConstantOfShape, Equal -1, Where) folds to the shape", () => {
    const b = new ModelBuilder({ opset: 17 });
    const past = b.input('past', 'float32', ['batch', H, 'past', 16]);
    const cur = b.input('cur', 'float32', ['batch', H, 'sequence', 16]);
    const kv = b.node('Concat', [past, cur], { axis: 2 });
    const shape = b.node('Shape', [kv]);
    const ones = b.node('ConstantOfShape', [b.initializer('four', int64Tensor([1], [4]))], { value: int64Tensor([1], [1]) });
    const minus = b.node('Mul', [ones, b.initializer('m1', int64Tensor([], [-1]))]);
    const target = b.node('Where', [b.node('Equal', [shape, minus]), ones, shape]);
    const ex = b.node('Expand', [b.initializer('one', float32Tensor([1, 1, 1, 1], [1])), target]);
    b.output(ex, 'y');
    const m = b.build();
    inferShapes(m);
    expect(kv.shape).toEqual(['batch', H, 'past + sequence', 16]);
    expect(ex.shape).toEqual(['batch', H, 'past + sequence', 16]);
  });

  it('Einsum: output letters with symbols, MACs = product of all letter sizes for two operands, none for one', () => {
    const b = new ModelBuilder({ opset: 17 });
    const q = b.input('q', 'float32', ['batch', H, 'sequence', 16]);
    const k = b.input('k', 'float32', ['batch', H, 'sequence', 16]);
    const s = b.node('Einsum', [q, k], { equation: 'bhqd,bhkd->bhqk' });
    const t = b.node('Einsum', [q], { equation: '...ij->...ji' });
    const u = b.node('Einsum', [b.input('i', 'float32', ['sequence']), b.input('j', 'float32', [8])], { equation: 'i,j' });
    for (const v of [s, t, u]) b.output(v);
    const m = b.build();
    inferShapes(m);
    expect([s.shape, t.shape, u.shape]).toEqual([
      ['batch', H, 'sequence', 'sequence'],
      ['batch', H, 16, 'sequence'],
      ['sequence', 8],
    ]);
    expect(modelStats(m, { dims: { batch: 2, sequence: 10 } }).nodes.map((n) => n.macs)).toEqual([2 * H * 10 * 10 * 16, 0, 10 * 8]);
  });
});

describe('modelStats with concrete sizes', () => {
  // MatMuls per token: 3 projections D·D; per sequence: q·kᵀ and att·v, each H·T·T·(D/H).
  const expected = (bsz: number, t: number) => bsz * (3 * t * D * D + 2 * t * t * D);

  it(`evaluates MACs for given input shapes and named dims: batch·(3·T·D² + 2·T²·D)`, () => {
    const m = attention();
    expect(modelStats(m, { inputShapes: { x: [1, 7, D] } }).macs).toBe(expected(1, 7));
    expect(modelStats(m, { inputShapes: { x: [3, 50, D] } }).macs).toBe(expected(3, 50));
    const s = modelStats(m, { dims: { sequence: 16 } });
    expect(s.macs).toBe(expected(1, 16));
    expect(s.assumed).toEqual([{ input: 'x', axis: 0, symbol: 'batch', size: 1, kind: 'batch' }]);
    expect(s.uncounted).toEqual([]);
    expect(m.graph.nodes.every((n) => n.outputs.every((o) => o.shape === undefined))).toBe(true); // the model is not changed
  });

  it('defaults: batch-like 1, sequence-like 128, unnamed axis 0 of an input 1, listed as assumed', () => {
    expect(modelStats(attention()).macs).toBe(expected(1, 128));
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('img', 'float32', [null, 8]);
    b.output(b.node('MatMul', [x, b.initializer('w', float32Tensor([8, 2], new Float32Array(16)))]), 'y');
    const s = modelStats(b.build(), { dims: {} });
    expect(s.assumed).toEqual([{ input: 'img', axis: 0, symbol: 'img[0]', size: 1, kind: 'batch' }]);
    expect(s.macs).toBe(16);
  });

  it('an image input with dynamic height and width assumes 224 (named or unnamed); MACs follow the given size', () => {
    for (const shape of [
      ['N', 3, 'height', 'width'],
      [null, 3, null, null],
      ['x_dynamic_axes_1', 3, 'x_dynamic_axes_2', 'x_dynamic_axes_3'],
    ]) {
      const b = new ModelBuilder({ opset: 17 });
      const x = b.input('x', 'float32', shape);
      b.output(b.node('Conv', [x, b.initializer('w', float32Tensor([8, 3, 3, 3], new Float32Array(216)))], { pads: [1, 1, 1, 1] }), 'y');
      const m = b.build();
      const s = modelStats(m);
      expect(s.assumed.map((a) => `${a.kind}=${a.size}`)).toEqual(['batch=1', 'spatial=224', 'spatial=224']);
      expect(s.macs).toBe(224 * 224 * 8 * 27);
      expect(modelStats(m, { inputShapes: { x: [2, 3, 32, 16] } }).macs).toBe(2 * 32 * 16 * 8 * 27);
    }
  });

  it('wrong input names, ranks and fixed sizes are E_OPTION errors that name the fix', () => {
    const m = attention();
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return McError.is(e) ? `${e.code}: ${e.message}` : String(e);
      }
      return 'no error';
    };
    expect(err(() => modelStats(m, { inputShapes: { nope: [1] } }))).toMatch(/^E_OPTION: .*'nope'.*'x'/);
    expect(err(() => modelStats(m, { inputShapes: { x: [1, 2] } }))).toMatch(/^E_OPTION: .*rank 3/);
    expect(err(() => modelStats(m, { inputShapes: { x: [1, 2, 5] } }))).toMatch(/^E_OPTION: .*size 32 on axis 2/);
  });

  it('a sparse initializer counts dense MACs (what onnxruntime runs) and effective MACs by its non-zeros', () => {
    const b = new ModelBuilder({ opset: 17 });
    const x = b.input('x', 'float32', ['batch', 10]);
    const w = new Value('w');
    b.output(b.node('MatMul', [x, w]), 'y');
    const m = b.build();
    // As read from a file: a sparse_initializer has no type of its own.
    m.graph.setSparseInitializer(w, { values: float32Tensor([4], [1, 2, 3, 4]), indices: int64Tensor([4], [0, 5, 17, 39]), dims: [10, 4] });
    const s = modelStats(m, { dims: { batch: 2 } });
    expect(s.macs).toBe(2 * 10 * 4);
    expect(s.effectiveMacs).toBe(2 * 4);
  });
});
