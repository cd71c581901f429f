import { attrOf, type Value } from '@mc/ir';
import type { OrtRule } from './rule.js';
import { matMulRule } from './rules-linear.js';

// Reverse-mode rules of the onnxruntime engine for the ops a transformer adds to a CNN's: embeddings (Gather of a
// weight), LayerNormalization, Softmax mid-graph, Erf (exact Gelu), MatMul of two activations (attention), and the
// integer shape computations that exporters emit (Shape), which carry no gradient.

const norm = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);
const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** Shape / Size: integer outputs, no gradient flows through them. */
export const constantRule: OrtRule = { trainable: [], constant: true, backward: () => [] };

/** dX = Y·(dY − Σ_axis dY·Y). */
export const softmaxRule: OrtRule = {
  trainable: [],
  check: (_node, inShape) => (inShape(0) === undefined ? 'input rank unknown' : undefined),
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const y = ctx.y(0);
    const axis = norm(attrOf(ctx.node, 'axis', ctx.opset), ctx.inShape(0)!.length);
    return [e.mul(y, e.op('Sub', [dy!, e.sum(e.mul(dy!, y), [axis], true)]))];
  },
};

/** d erf(x)/dx = 2/√π · exp(−x²). */
export const erfRule: OrtRule = {
  trainable: [],
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const x = ctx.x(0)!;
    return [e.mul(dy!, e.scale(e.op('Exp', [e.op('Neg', [e.mul(x, x)])]), 2 / Math.sqrt(Math.PI)))];
  },
};

/**
 * LayerNormalization over axes [axis, rank): x̂ = (x − μ)/σ, Y = x̂·γ + β. The statistics are recomputed in the
 * backward (the forward stays one fused node): dX = (1/σ)·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) with dx̂ = dY·γ;
 * dγ = Σ_lead dY·x̂, dβ = Σ_lead dY.
 */
export const layerNormRule: OrtRule = {
  trainable: [1, 2],
  check(node, inShape) {
    const s = inShape(0);
    if (s === undefined) return 'input rank unknown';
    if (node.outputs.length > 1) return 'the Mean / InvStdDev outputs are used';
    const axis = norm(attrOf(node, 'axis'), s.length);
    if (s.slice(axis).some((d) => typeof d !== 'number')) return 'the normalised dims are not known sizes';
    return undefined;
  },
  backward(ctx, [dy], need) {
    const { e } = ctx;
    const s = ctx.inShape(0)!;
    const r = s.length;
    const axis = norm(attrOf(ctx.node, 'axis'), r);
    const axes = range(axis, r);
    const n = (s.slice(axis) as number[]).reduce((a, b) => a * b, 1);
    const mean = (v: Value) => e.scale(e.sum(v, axes, true), 1 / n);
    const x = ctx.x(0)!;
    const d = e.op('Sub', [x, mean(x)]);
    const inv = e.op('Reciprocal', [e.op('Sqrt', [e.add(mean(e.mul(d, d)), e.f32(attrOf(ctx.node, 'epsilon')))])]);
    const xhat = e.mul(d, inv);
    const g: (Value | undefined)[] = [];
    const lead = range(0, axis);
    const reduceLead = (v: Value, like: Value) => e.reshapeLike(lead.length === 0 ? v : e.sum(v, lead, false), like);
    if (need[0]) {
      const dxhat = e.mul(dy!, ctx.x(1)!);
      g[0] = e.mul(inv, e.op('Sub', [e.op('Sub', [dxhat, mean(dxhat)]), e.mul(xhat, mean(e.mul(dxhat, xhat)))]));
    }
    if (need[1]) g[1] = reduceLead(e.mul(dy!, xhat), ctx.x(1)!);
    if (need[2] && ctx.x(2) !== undefined) g[2] = reduceLead(dy!, ctx.x(2)!);
    return g;
  },
};

/** Gather of rows of a 2-D weight (an embedding): dW = onehot(ids)ᵀ · dY, rows summed where ids repeat. */
export const gatherRule: OrtRule = {
  trainable: [0],
  check(node, inShape) {
    const w = inShape(0);
    if (attrOf(node, 'axis') !== 0) return 'axis ≠ 0';
    if (w?.length !== 2 || typeof w[0] !== 'number' || typeof w[1] !== 'number') return 'data is not a 2-D table of known size';
    return undefined;
  },
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const [v, d] = ctx.inShape(0) as [number, number];
    const ids = e.op('Reshape', [ctx.x(1)!, e.i64([-1])]);
    const oh = e.op('OneHot', [ids, e.i64([v]), e.f32s([0, 1])], { axis: -1 });
    return [e.op('Gemm', [oh, e.op('Reshape', [dy!, e.i64([-1, d])])], { transA: 1 })];
  },
};

/**
 * MatMul: a 2-D constant B (a layer) as the linear rules do; two activations of the same rank ≥ 3 with equal batch
 * dims (attention scores and context): dA = dY·Bᵀ, dB = Aᵀ·dY over the last two axes.
 */
export const matMulAnyRule: OrtRule = {
  trainable: matMulRule.trainable,
  check(node, inShape, outShape) {
    const [a, b] = [inShape(0), inShape(1)];
    if (b?.length === 2) return matMulRule.check?.(node, inShape, outShape);
    if (a === undefined || b === undefined || a.length !== b.length || a.length < 3)
      return 'needs a 2-D B, or A and B of the same rank ≥ 3';
    for (let i = 0; i < a.length - 2; i++) {
      if (typeof a[i] === 'number' && typeof b[i] === 'number' && a[i] !== b[i]) return 'broadcast batch dims';
      if (a[i] === 1 || b[i] === 1) return 'broadcast batch dims';
    }
    return undefined;
  },
  backward(ctx, dy, need) {
    if (ctx.inShape(1)?.length === 2) return matMulRule.backward(ctx, dy, need);
    const { e } = ctx;
    const r = ctx.inShape(0)!.length;
    const perm = [...range(0, r - 2), r - 1, r - 2];
    const t = (v: Value) => e.op('Transpose', [v], { perm });
    return [need[0] ? e.op('MatMul', [dy[0]!, t(ctx.x(1)!)]) : undefined, need[1] ? e.op('MatMul', [t(ctx.x(0)!), dy[0]!]) : undefined];
  },
};

/** Where(c, X, Y) (masking): dX = dY where c, dY = dY elsewhere, each summed over its broadcast axes. */
export const whereRule: OrtRule = {
  trainable: [],
  check: (_node, inShape, outShape) =>
    [1, 2].some((i) => inShape(i) === undefined) || outShape(0) === undefined
      ? 'operand shapes unknown (needed to sum broadcast gradients)'
      : undefined,
  backward(ctx, [dy], need) {
    const { e } = ctx;
    const zero = e.f32(0);
    const c = ctx.x(0)!;
    const pick = (i: 1 | 2) =>
      e.unbroadcast(e.op('Where', i === 1 ? [c, dy!, zero] : [c, zero, dy!]), ctx.x(i)!, ctx.inShape(i), ctx.outShape(0));
    return [undefined, need[1] ? pick(1) : undefined, need[2] ? pick(2) : undefined];
  },
};

/**
 * Gelu (opset 20): exact, Φ(x) + x·φ(x); tanh approximation, with u = √(2/π)(x + 0.044715x³):
 * ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²).
 */
export const geluRule: OrtRule = {
  trainable: [],
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const x = ctx.x(0)!;
    const half = e.f32(0.5);
    const one = e.f32(1);
    if (attrOf(ctx.node, 'approximate') === 'tanh') {
      const k = Math.sqrt(2 / Math.PI);
      const x2 = e.mul(x, x);
      const th = e.op('Tanh', [e.scale(e.add(x, e.scale(e.mul(x2, x), 0.044715)), k)]);
      const left = e.mul(half, e.add(one, th));
      const right = e.mul(e.mul(e.mul(half, x), e.op('Sub', [one, e.mul(th, th)])), e.scale(e.add(one, e.scale(x2, 3 * 0.044715)), k));
      return [e.mul(dy!, e.add(left, right))];
    }
    const cdf = e.mul(half, e.add(one, e.op('Erf', [e.scale(x, Math.SQRT1_2)])));
    const pdf = e.scale(e.op('Exp', [e.scale(e.mul(x, x), -0.5)]), 1 / Math.sqrt(2 * Math.PI));
    return [e.mul(dy!, e.add(cdf, e.mul(x, pdf)))];
  },
};
