import { attr, convOutDim, spatialAttrs, Tensor, toNumbers, type Node, type Shape, type Value } from '@mc/ir';
import { attrsOf, type Emitter } from './emit.js';

/** What a rule sees while the training graph is generated. @internal */
export interface OrtCtx {
  readonly e: Emitter;
  readonly node: Node;
  readonly training: boolean;
  readonly opset: number;
  /** Forward input `i` in the generated graph. */
  x(i: number): Value | undefined;
  /** Forward output `i` in the generated graph (backward only). */
  y(i: number): Value;
  /** Values the forward kept for the backward (outputs past the node's own), when it kept them. */
  saved(i: number): Value | undefined;
  /** Inferred shapes of the original node's inputs and outputs. */
  inShape(i: number): Shape | undefined;
  outShape(i: number): Shape | undefined;
  /** The constant behind input `i`, when there is one. */
  constant(i: number): Tensor | undefined;
  /** A float32 graph input for a dropout mask shaped like input 0 (training only). */
  dropoutMask(ratio: number): Value;
  /** Marks `v` as a graph output carrying a new value of the running statistic at input `i` (BatchNormalization). */
  stateOut(i: number, v: Value): void;
  /** Momentum of BatchNormalization running statistics when they are updated, else undefined (frozen). */
  readonly bnMomentum: number | undefined;
}

/** Reverse-mode rule for one ONNX op. @internal */
export interface OrtRule {
  /** Input slots whose float initializers are trained. */
  readonly trainable: readonly number[];
  /** Why this node cannot be differentiated here; undefined when it can. */
  check?(node: Node, inShape: (i: number) => Shape | undefined, outShape: (i: number) => Shape | undefined): string | undefined;
  /** The forward in the generated graph: the node's outputs, then saved values. Default: a copy of the node. */
  forward?(ctx: OrtCtx): Value[];
  /** Gradients of the inputs from those of the outputs; `need[i]` says which inputs want one. */
  backward(ctx: OrtCtx, dy: readonly (Value | undefined)[], need: readonly boolean[]): (Value | undefined)[];
}

/** A copy of the node with its attributes. @internal */
export function copyForward(ctx: OrtCtx, outputs = ctx.node.outputs.length): Value[] {
  const ins = ctx.node.inputs.map((v, i) => (v === undefined || v.name === '' ? undefined : ctx.x(i)));
  return ctx.e.opN(ctx.node.opType, ins, attrsOf(ctx.node), outputs);
}

const known = (s: Shape | undefined, from = 1): s is readonly number[] => s !== undefined && s.slice(from).every((d) => typeof d === 'number');

/** Conv geometry with SAME_* padding resolved to explicit pads (needs the spatial input size). */
function convGeometry(node: Node, x: Shape, w: Shape) {
  const k = node.attrInts('kernel_shape') ?? (w.slice(2) as number[]);
  const { strides, dilations, pads: p0, autoPad } = spatialAttrs(node, k);
  const r = k.length;
  const pads = [...p0];
  if (autoPad === 'VALID') pads.fill(0);
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    for (let i = 0; i < r; i++) {
      const inD = x[i + 2] as number;
      const out = Math.ceil(inD / strides[i]!);
      const total = Math.max((out - 1) * strides[i]! + (k[i]! - 1) * dilations[i]! + 1 - inD, 0);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + r] = total - pads[i]!;
    }
  }
  const out = k.map((kk, i) => convOutDim(x[i + 2] as number, kk, strides[i]!, dilations[i]!, pads[i]!, pads[i + r]!, 'NOTSET') as number);
  return { k, strides, dilations, pads, out, r };
}

/**
 * How a Conv's weight gradient is computed: a Conv with batch and channels swapped, or im2col + one GEMM (default:
 * ~25% faster for mnist_cnn's conv2 in onnxruntime 1.30 with one thread; the Conv form has a 9-column output GEMM).
 * @internal
 */
export let convWeightGrad: 'conv' | 'im2col' = 'im2col';
/** @internal For measurements. */
export function setConvWeightGrad(v: 'conv' | 'im2col'): void {
  convWeightGrad = v;
}

const convRule: OrtRule = {
  trainable: [1, 2],
  check(node, inShape) {
    const x = inShape(0);
    const w = inShape(1);
    if (x?.length !== 4 || !known(x, 1) || !known(w, 0) || w.length !== 4) return 'needs a 2-D convolution with known input channels, spatial size and weight shape';
    return undefined;
  },
  // SAME_* padding as explicit pads: onnxruntime's Conv refuses SAME with dilation, and the backward needs them anyway.
  forward(ctx) {
    if (ctx.node.attrString('auto_pad', 'NOTSET') === 'NOTSET') return copyForward(ctx);
    const { k, strides, dilations, pads } = convGeometry(ctx.node, ctx.inShape(0)!, ctx.inShape(1)!);
    const ins = ctx.node.inputs.map((v, i) => (v === undefined || v.name === '' ? undefined : ctx.x(i)));
    return [ctx.e.op('Conv', ins, { kernel_shape: k, strides, dilations, pads, group: ctx.node.attrInt('group', 1) })];
  },
  backward(ctx, [dy], need) {
    const { e, node } = ctx;
    const x = ctx.x(0)!;
    const w = ctx.x(1)!;
    const { k, strides, dilations, pads, out, r } = convGeometry(node, ctx.inShape(0)!, ctx.inShape(1)!);
    const inSp = ctx.inShape(0)!.slice(2) as number[];
    const group = node.attrInt('group', 1);
    const g: (Value | undefined)[] = [];
    if (need[0]) {
      // dX = ConvTranspose(dY, W): the adjoint of the strided, padded correlation; output_padding restores rows the
      // forward's floor() dropped.
      const outPad = inSp.map((d, i) => d - ((out[i]! - 1) * strides[i]! + (k[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + r]!));
      g[0] = e.op('ConvTranspose', [dy, w], { kernel_shape: k, strides, dilations, pads, output_padding: outPad, group });
    }
    if (need[1]) {
      if (convWeightGrad === 'conv' && group === 1) {
        // dW[m, c] = Σ_n X[n, c] ⋆ dY[n, m]: a Conv over X with batch↔channels swapped and dY as the kernel; stride and
        // dilation swap roles. Rows past the kernel (from floor()) are cut.
        const xt = e.op('Transpose', [x], { perm: [1, 0, 2, 3] });
        const dyt = e.op('Transpose', [dy], { perm: [1, 0, 2, 3] });
        let dw = e.op('Conv', [xt, dyt], { strides: dilations, dilations: strides, pads });
        const full = inSp.map((d, i) => Math.floor((d + pads[i]! + pads[i + r]! - ((out[i]! - 1) * strides[i]! + 1)) / dilations[i]!) + 1);
        if (full.some((f, i) => f !== k[i])) dw = e.op('Slice', [dw, e.i64([0, 0]), e.i64(k), e.i64([2, 3])]);
        g[1] = e.op('Transpose', [dw], { perm: [1, 0, 2, 3] });
      } else {
        // im2col on the channel-major input: Xᵀ [C, N, H, W] once, strided slices [C, N, OH, OW] per kernel tap, stacked
        // as cols [C·kh·kw, N·OH·OW]; then dW = dYᵀ [M, N·OH·OW] · colsᵀ, one GEMM with the batch in its inner dimension.
        const c = ctx.inShape(0)![1] as number;
        const m = ctx.inShape(1)![0] as number;
        const xp = pads.some((p) => p !== 0) ? e.op('Pad', [x, e.i64([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])]) : x;
        const xt = e.op('Transpose', [xp], { perm: [1, 0, 2, 3] });
        const slices: Value[] = [];
        for (let i = 0; i < k[0]!; i++) {
          for (let j = 0; j < k[1]!; j++) {
            const s0 = [i * dilations[0]!, j * dilations[1]!];
            const s1 = [s0[0]! + (out[0]! - 1) * strides[0]! + 1, s0[1]! + (out[1]! - 1) * strides[1]! + 1];
            slices.push(e.op('Unsqueeze', [e.op('Slice', [xt, e.i64(s0), e.i64(s1), e.i64([2, 3]), e.i64(strides)]), e.i64([1])]));
          }
        }
        const kk = k[0]! * k[1]!;
        if (group === 1) {
          const cols = e.op('Reshape', [e.op('Concat', slices, { axis: 1 }), e.i64([c * kk, -1])]);
          const dyt = e.op('Reshape', [e.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), e.i64([m, -1])]);
          g[1] = e.op('Reshape', [e.op('Gemm', [dyt, cols], { transB: 1 }), e.i64([m, c, k[0]!, k[1]!])]);
        } else {
          // Per group: dWᵀ_g [Cg·K, Mg] = cols_g [Cg·K, N·P] · dY_g [N·P, Mg], one batched MatMul over the groups.
          const [cg, mg] = [c / group, m / group];
          const cols = e.op('Reshape', [e.op('Concat', slices, { axis: 1 }), e.i64([group, cg * kk, -1])]);
          const dyg = e.op('Reshape', [e.op('Transpose', [e.op('Reshape', [dy, e.i64([0, group, mg, -1])])], { perm: [1, 0, 3, 2] }), e.i64([group, -1, mg])]);
          const dwt = e.op('MatMul', [cols, dyg]);
          g[1] = e.op('Reshape', [e.op('Transpose', [dwt], { perm: [0, 2, 1] }), e.i64([m, cg, k[0]!, k[1]!])]);
        }
      }
    }
    if (need[2]) g[2] = e.sum(dy!, [0, 2, 3], false);
    return g;
  },
};

const gemmRule: OrtRule = {
  trainable: [1, 2],
  check(node, inShape, outShape) {
    if (node.inputs[2] !== undefined && node.inputs[2].name !== '' && (inShape(2) === undefined || outShape(0) === undefined)) return 'bias shape unknown';
    return undefined;
  },
  backward(ctx, [dy], need) {
    const { e, node } = ctx;
    const [a, b] = [ctx.x(0)!, ctx.x(1)!];
    const ta = node.attrInt('transA', 0);
    const tb = node.attrInt('transB', 0);
    const alpha = node.attrFloat('alpha', 1);
    const beta = node.attrFloat('beta', 1);
    const al = alpha === 1 ? {} : { alpha: attr.float(alpha) };
    const g: (Value | undefined)[] = [];
    // Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' likewise.
    if (need[0]) g[0] = ta ? e.op('Gemm', [b, dy], { transA: tb, transB: 1, ...al }) : e.op('Gemm', [dy, b], { transB: tb ? 0 : 1, ...al });
    if (need[1]) g[1] = tb ? e.op('Gemm', [dy, a], { transA: 1, transB: ta, ...al }) : e.op('Gemm', [a, dy], { transA: ta ? 0 : 1, ...al });
    if (need[2]) {
      const u = e.unbroadcast(dy!, ctx.x(2)!, ctx.inShape(2), ctx.outShape(0));
      g[2] = u === undefined ? undefined : e.scale(u, beta);
    }
    return g;
  },
};

const matMulRule: OrtRule = {
  trainable: [1],
  check(_node, inShape) {
    const a = inShape(0);
    const b = inShape(1);
    if (a === undefined || b?.length !== 2 || a.length < 2 || typeof b[0] !== 'number' || typeof b[1] !== 'number') return 'needs A of rank ≥ 2 and a 2-D B of known shape';
    return undefined;
  },
  backward(ctx, [dy], need) {
    const { e } = ctx;
    const [a, b] = [ctx.x(0)!, ctx.x(1)!];
    const [kk, n] = ctx.inShape(1) as [number, number];
    const g: (Value | undefined)[] = [];
    if (need[0]) g[0] = e.op('MatMul', [dy, e.op('Transpose', [b])]);
    if (need[1]) {
      const flat = ctx.inShape(0)!.length > 2;
      g[1] = e.op('Gemm', [flat ? e.op('Reshape', [a, e.i64([-1, kk])]) : a, flat ? e.op('Reshape', [dy, e.i64([-1, n])]) : dy!], { transA: 1 });
    }
    return g;
  },
};

const broadcastCheck = (_node: Node, inShape: (i: number) => Shape | undefined, outShape: (i: number) => Shape | undefined) =>
  inShape(0) === undefined || inShape(1) === undefined || outShape(0) === undefined ? 'operand shapes unknown (needed to sum broadcast gradients)' : undefined;

const binaryRule = (grad: (ctx: OrtCtx, dy: Value, i: 0 | 1) => Value): OrtRule => ({
  trainable: [0, 1],
  check: broadcastCheck,
  backward(ctx, [dy], need) {
    return [0, 1].map((i) => (need[i] ? ctx.e.unbroadcast(grad(ctx, dy!, i as 0 | 1), ctx.x(i)!, ctx.inShape(i), ctx.outShape(0)) : undefined));
  },
});

const unaryRule = (grad: (ctx: OrtCtx, dy: Value) => Value): OrtRule => ({
  trainable: [],
  backward: (ctx, [dy], need) => [need[0] ? grad(ctx, dy!) : undefined],
});

/** Shape-only ops: the gradient is dY reshaped back to the input's runtime shape. */
const reshapeRule: OrtRule = {
  trainable: [],
  backward: (ctx, [dy], need) => [need[0] ? ctx.e.reshapeLike(dy!, ctx.x(0)!) : undefined],
};

/** Non-overlapping 2-D windows (kernel = strides, no pads/dilation, sizes divisible): the window is a reshape. */
function tiled(node: Node, x: Shape | undefined): { c: number; h: number; w: number; kh: number; kw: number } | undefined {
  const k = node.attrInts('kernel_shape') ?? [];
  const s = node.attrInts('strides', k.map(() => 1));
  const pads = node.attrInts('pads', [0, 0, 0, 0]);
  const dil = node.attrInts('dilations', [1, 1]);
  if (x?.length !== 4 || !known(x, 1) || k.length !== 2 || s[0] !== k[0] || s[1] !== k[1] || pads.some((p) => p !== 0) || dil.some((d) => d !== 1)) return undefined;
  if (node.attrString('auto_pad', 'NOTSET') !== 'NOTSET' && node.attrString('auto_pad', 'NOTSET') !== 'VALID') return undefined;
  const [, c, h, w] = x as number[];
  return h! % k[0]! === 0 && w! % k[1]! === 0 ? { c: c!, h: h!, w: w!, kh: k[0]!, kw: k[1]! } : undefined;
}

/**
 * MaxPool. Non-overlapping windows: the gradient goes where X equals its window's max (a reshape, Equal and Where;
 * ties share it as in the wasm engine, and after a ReLU ties are zeros whose gradient ReLU drops). Otherwise the
 * forward also returns the arg-max indices (flat over N·C·H·W) and ScatterElements(add) routes the gradient back.
 */
/** Squeeze/Unsqueeze with axes as an input (opset ≥ 13): a reshape. */
const axesInputRule: OrtRule = { ...reshapeRule, check: (node) => (node.attributes.has('axes') ? 'axes as an attribute (opset < 13); re-export at opset ≥ 13' : undefined) };

const maxPoolRule: OrtRule = {
  trainable: [],
  check(node, inShape) {
    if (node.attrInt('storage_order', 0) !== 0) return 'storage_order 1';
    if (node.outputs.length > 1) return 'its Indices output is used';
    if (inShape(0) === undefined) return 'input shape unknown';
    return undefined;
  },
  forward: (ctx) => {
    if (tiled(ctx.node, ctx.inShape(0)) !== undefined) return copyForward(ctx, 1);
    const [y, idx] = copyForward(ctx, 2);
    return [y!, idx!];
  },
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const x = ctx.x(0)!;
    const t = tiled(ctx.node, ctx.inShape(0));
    if (t !== undefined) {
      // Window values back at full size by nearest-neighbour Resize (fast, same-shape elementwise ops after it).
      const up = (v: Value) => e.op('Resize', [v, undefined, e.f32s([1, 1, t.kh, t.kw])], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
      const hit = e.op('Equal', [x, up(ctx.y(0))]);
      return [e.op('Where', [hit, up(dy!), e.f32(0)])];
    }
    const flat = e.i64([-1]);
    const zeros = e.op('Reshape', [e.op('Mul', [x, e.f32(0)]), flat]);
    const dx = e.op('ScatterElements', [zeros, e.op('Reshape', [ctx.saved(ctx.node.outputs.length)!, flat]), e.op('Reshape', [dy, flat])], { reduction: 'add' });
    return [e.reshapeLike(dx, x)];
  },
};

/**
 * AveragePool (2-D): dX = ConvTranspose(dY / count, ones) per channel (group = C); the count is kh·kw, or with
 * count_include_pad = 0 the real elements of each window (an AveragePool of ones over the spatial plane, times kh·kw).
 */
const avgPoolRule: OrtRule = {
  trainable: [],
  check(node, inShape) {
    const x = inShape(0);
    if (x?.length !== 4 || !known(x, 1)) return 'needs a 2-D pool with known channels and spatial size';
    if (node.attrInt('ceil_mode', 0) === 1) return 'ceil_mode 1';
    if (node.attrInts('dilations', [1, 1]).some((d) => d !== 1)) return 'dilations';
    return undefined;
  },
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e, node } = ctx;
    const [, c, h, w] = ctx.inShape(0) as number[];
    const kernel = node.attrInts('kernel_shape')!;
    const { k, strides, pads, out } = convGeometry(node, ctx.inShape(0)!, [c!, 1, ...kernel]);
    const kk = k[0]! * k[1]!;
    const ones = (dims: number[]) => ctx.e.b.initializer(ctx.e.b.graph.uniqueName('mc_ones'), new Tensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(1)));
    let scaled: Value;
    if (node.attrInt('count_include_pad', 0) === 1 || pads.every((p) => p === 0)) scaled = e.scale(dy!, 1 / kk);
    else {
      const share = e.op('AveragePool', [ones([1, 1, h!, w!])], { kernel_shape: k, strides, pads, count_include_pad: 1 });
      scaled = e.op('Div', [dy!, e.scale(share, kk)]);
    }
    const outPad = [h!, w!].map((d, i) => d - ((out[i]! - 1) * strides[i]! + k[i]! - pads[i]! - pads[i + 2]!));
    return [e.op('ConvTranspose', [scaled, ones([c!, 1, k[0]!, k[1]!])], { kernel_shape: k, strides, pads, output_padding: outPad, group: c! })];
  },
};

const globalAvgPoolRule: OrtRule = {
  trainable: [],
  check: (_n, inShape) => (known(inShape(0), 2) ? undefined : 'input spatial size unknown'),
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const sp = (ctx.inShape(0)!.slice(2) as number[]).reduce((a, b) => a * b, 1);
    return [ctx.e.op('Expand', [ctx.e.scale(dy!, 1 / sp), ctx.e.op('Shape', [ctx.x(0)!])])];
  },
};

const dropoutRule: OrtRule = {
  trainable: [],
  check: (node, inShape) => (node.outputs.length > 1 ? 'the mask output is used' : known(inShape(0)) ? undefined : 'input shape unknown (needed for the mask)'),
  forward(ctx) {
    const c = ctx.constant(1);
    // The ratio is an attribute before opset 12, an input after.
    const ratio = ctx.node.attributes.has('ratio') ? ctx.node.attrFloat('ratio', 0.5) : c === undefined ? 0.5 : toNumbers(c)[0]!;
    if (!ctx.training || ratio <= 0) return [ctx.x(0)!];
    const mask = ctx.dropoutMask(ratio);
    return [ctx.e.mul(ctx.x(0)!, mask), mask];
  },
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const mask = ctx.saved(1);
    return [mask === undefined ? dy : ctx.e.mul(dy!, mask)];
  },
};

const transposeRule: OrtRule = {
  trainable: [],
  check: (node, inShape) => (node.attrInts('perm') !== undefined || inShape(0) !== undefined ? undefined : 'rank unknown'),
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const r = ctx.inShape(0)?.length ?? ctx.node.attrInts('perm')!.length;
    const perm = ctx.node.attrInts('perm', Array.from({ length: r }, (_, i) => r - 1 - i));
    const inv = perm.map((_, i) => perm.indexOf(i));
    return [ctx.e.op('Transpose', [dy], { perm: inv })];
  },
};

/**
 * BatchNormalization. Training on batch statistics: μ, σ² (biased) of the batch, the running statistics move towards
 * them (m ← m·momentum + μ·(1 − momentum), v with the unbiased σ²) as in the wasm engine; the gradient flows through
 * μ and σ²: dX = (γ/σ̂)·(dY − mean(dY) − x̂·mean(dY·x̂)). Frozen: the inference form, dX = dY·γ/√(v + ε).
 */
const batchNormRule: OrtRule = {
  trainable: [1, 2],
  check: (node, inShape) =>
    node.attrInt('training_mode', 0) === 1 ? 'training_mode=1' : node.outputs.length > 1 ? 'extra outputs' : (inShape(0)?.length ?? 0) < 2 ? 'input rank unknown' : undefined,
  forward(ctx) {
    const { e } = ctx;
    const r = ctx.inShape(0)!.length;
    const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    const bshape = [1, -1, ...Array(r - 2).fill(1)];
    const eps = ctx.node.attrFloat('epsilon', 1e-5);
    const x = ctx.x(0)!;
    const [gamma, beta] = [e.op('Reshape', [ctx.x(1)!, e.i64(bshape)]), e.op('Reshape', [ctx.x(2)!, e.i64(bshape)])];
    if (ctx.bnMomentum === undefined || !ctx.training) {
      const inv = e.op('Reciprocal', [e.op('Sqrt', [e.add(e.op('Reshape', [ctx.x(4)!, e.i64(bshape)]), e.f32(eps))])]);
      const xhat = e.mul(e.op('Sub', [x, e.op('Reshape', [ctx.x(3)!, e.i64(bshape)])]), inv);
      return [e.add(e.mul(xhat, gamma), beta), xhat, inv, gamma];
    }
    const count = e.op('Cast', [e.op('Div', [e.op('Size', [x]), e.op('Size', [ctx.x(1)!])])], { to: 1 });
    const mean = e.op('Div', [e.sum(x, axes, true), count]);
    const d = e.op('Sub', [x, mean]);
    const variance = e.op('Div', [e.sum(e.mul(d, d), axes, true), count]);
    const inv = e.op('Reciprocal', [e.op('Sqrt', [e.add(variance, e.f32(eps))])]);
    const xhat = e.mul(d, inv);
    const m = ctx.bnMomentum;
    const flat = e.i64([-1]);
    const unbiased = e.op('Div', [e.mul(variance, count), e.op('Max', [e.op('Sub', [count, e.f32(1)]), e.f32(1)])]);
    ctx.stateOut(3, e.add(e.scale(ctx.x(3)!, m), e.op('Reshape', [e.scale(mean, 1 - m), flat])));
    ctx.stateOut(4, e.add(e.scale(ctx.x(4)!, m), e.op('Reshape', [e.scale(unbiased, 1 - m), flat])));
    return [e.add(e.mul(xhat, gamma), beta), xhat, inv, gamma, count];
  },
  backward(ctx, [dy], need) {
    const { e } = ctx;
    const r = ctx.inShape(0)!.length;
    const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    const [xhat, inv, gamma] = [ctx.saved(1)!, ctx.saved(2)!, ctx.saved(3)!];
    const g: (Value | undefined)[] = [];
    if (need[1]) g[1] = e.sum(e.mul(dy!, xhat), axes, false);
    if (need[2]) g[2] = e.sum(dy!, axes, false);
    if (need[0]) {
      const k = e.mul(gamma, inv);
      if (ctx.bnMomentum === undefined || !ctx.training) g[0] = e.mul(dy!, k);
      else {
        const count = ctx.saved(4)!;
        const mdy = e.op('Div', [e.sum(dy!, axes, true), count]);
        const mdyx = e.op('Div', [e.sum(e.mul(dy!, xhat), axes, true), count]);
        g[0] = e.mul(k, e.op('Sub', [e.op('Sub', [dy!, mdy]), e.mul(xhat, mdyx)]));
      }
    }
    return g;
  },
};

/** Concat: each input's gradient is its slice of dY along the axis (sizes from the inferred shapes). */
const concatRule: OrtRule = {
  trainable: [],
  check(node, inShape) {
    const r = inShape(0)?.length;
    if (r === undefined) return 'input rank unknown';
    const axis = (node.attrInt('axis', 0) + r) % r;
    return node.inputs.every((_, i) => typeof inShape(i)?.[axis] === 'number') ? undefined : 'input sizes along the axis unknown';
  },
  backward(ctx, [dy], need) {
    const r = ctx.inShape(0)!.length;
    const axis = (ctx.node.attrInt('axis', 0) + r) % r;
    let at = 0;
    return ctx.node.inputs.map((_, i) => {
      const size = ctx.inShape(i)![axis] as number;
      const g = need[i] ? ctx.e.op('Slice', [dy, ctx.e.i64([at]), ctx.e.i64([at + size]), ctx.e.i64([axis])]) : undefined;
      at += size;
      return g;
    });
  },
};

/** Clip (bounds as inputs, opset ≥ 11): the gradient passes where lo ≤ x ≤ hi, as tfjs's. */
const clipRule: OrtRule = {
  trainable: [],
  check: (node) => (node.attributes.has('min') || node.attributes.has('max') ? 'bounds as attributes (opset < 11); re-export at opset ≥ 11' : undefined),
  backward(ctx, [dy], need) {
    if (!need[0]) return [];
    const { e } = ctx;
    const x = ctx.x(0)!;
    const [lo, hi] = [ctx.x(1), ctx.x(2)];
    let keep: Value | undefined;
    if (lo !== undefined) keep = e.op('GreaterOrEqual', [x, lo]);
    if (hi !== undefined) keep = keep === undefined ? e.op('LessOrEqual', [x, hi]) : e.op('And', [keep, e.op('LessOrEqual', [x, hi])]);
    return [keep === undefined ? dy : e.op('Where', [keep, dy, e.f32(0)])];
  },
};

/** The ops the onnxruntime engine differentiates, by ONNX op type (domain ''). @internal */
export const ortRules: ReadonlyMap<string, OrtRule> = new Map<string, OrtRule>([
  ['Conv', convRule],
  ['Gemm', gemmRule],
  ['MatMul', matMulRule],
  ['Add', binaryRule((_c, dy) => dy)],
  ['Sub', binaryRule((c, dy, i) => (i === 0 ? dy : c.e.op('Neg', [dy])))],
  ['Mul', binaryRule((c, dy, i) => c.e.mul(dy, c.x(1 - i)!))],
  ['Div', { ...binaryRule((c, dy, i) => (i === 0 ? c.e.op('Div', [dy, c.x(1)!]) : c.e.op('Neg', [c.e.op('Div', [c.e.mul(dy, c.y(0)), c.x(1)!])]))), trainable: [] }],
  ['Relu', unaryRule((c, dy) => c.e.op('Where', [c.e.op('Greater', [c.x(0)!, c.e.f32(0)]), dy, c.e.f32(0)]))],
  ['LeakyRelu', unaryRule((c, dy) => c.e.op('Where', [c.e.op('Greater', [c.x(0)!, c.e.f32(0)]), dy, c.e.scale(dy, c.node.attrFloat('alpha', 0.01))]))],
  ['Sigmoid', unaryRule((c, dy) => c.e.mul(dy, c.e.mul(c.y(0), c.e.op('Sub', [c.e.f32(1), c.y(0)]))))],
  ['Tanh', unaryRule((c, dy) => c.e.mul(dy, c.e.op('Sub', [c.e.f32(1), c.e.mul(c.y(0), c.y(0))])))],
  ['Identity', unaryRule((_c, dy) => dy)],
  ['Flatten', reshapeRule],
  ['Squeeze', axesInputRule],
  ['Unsqueeze', axesInputRule],
  ['Concat', concatRule],
  ['Clip', clipRule],
  ['Reshape', reshapeRule],
  ['Transpose', transposeRule],
  ['MaxPool', maxPoolRule],
  ['GlobalAveragePool', globalAvgPoolRule],
  ['AveragePool', avgPoolRule],
  ['Dropout', dropoutRule],
  ['BatchNormalization', batchNormRule],
]);
