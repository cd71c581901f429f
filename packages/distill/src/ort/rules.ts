import { toNumbers, type Node, type Shape, type Value, attrOf, transposePerm } from '@mc/ir';
import { known, type OrtCtx, type OrtRule } from './rule.js';
import { convRule, gemmRule } from './rules-linear.js';
import { avgPoolRule, globalAvgPoolRule, maxPoolRule } from './rules-pool.js';
import { constantRule, erfRule, gatherRule, geluRule, layerNormRule, matMulAnyRule, softmaxRule, whereRule } from './rules-transformer.js';

export { copyForward, type OrtCtx, type OrtRule } from './rule.js';
export { convWeightGrad, setConvWeightGrad } from './rules-linear.js';

const broadcastCheck = (_node: Node, inShape: (i: number) => Shape | undefined, outShape: (i: number) => Shape | undefined) =>
  inShape(0) === undefined || inShape(1) === undefined || outShape(0) === undefined
    ? 'operand shapes unknown (needed to sum broadcast gradients)'
    : undefined;

const binaryRule = (grad: (ctx: OrtCtx, dy: Value, i: 0 | 1) => Value): OrtRule => ({
  trainable: [0, 1],
  check: broadcastCheck,
  backward(ctx, [dy], need) {
    return [0, 1].map((i) =>
      need[i] ? ctx.e.unbroadcast(grad(ctx, dy!, i as 0 | 1), ctx.x(i)!, ctx.inShape(i), ctx.outShape(0)) : undefined,
    );
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

/** Squeeze/Unsqueeze with axes as an input (opset ≥ 13): a reshape. */
const axesInputRule: OrtRule = {
  ...reshapeRule,
  check: (node) => (node.attributes.has('axes') ? 'axes as an attribute (opset < 13); re-export at opset ≥ 13' : undefined),
};

const dropoutRule: OrtRule = {
  trainable: [],
  check: (node, inShape) =>
    node.outputs.length > 1 ? 'the mask output is used' : known(inShape(0)) ? undefined : 'input shape unknown (needed for the mask)',
  forward(ctx) {
    const c = ctx.constant(1);
    // The ratio is an attribute before opset 12, an input after.
    const ratio = ctx.node.attributes.has('ratio') ? attrOf(ctx.node, 'ratio') : c === undefined ? 0.5 : toNumbers(c)[0]!;
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
    const perm = transposePerm(ctx.node, r);
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
    attrOf(node, 'training_mode') === 1
      ? 'training_mode=1'
      : node.outputs.length > 1
        ? 'extra outputs'
        : (inShape(0)?.length ?? 0) < 2
          ? 'input rank unknown'
          : undefined,
  forward(ctx) {
    const { e } = ctx;
    const r = ctx.inShape(0)!.length;
    const axes = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2)];
    const bshape = [1, -1, ...Array(r - 2).fill(1)];
    const eps = attrOf(ctx.node, 'epsilon');
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
    const axis = (attrOf(node, 'axis') + r) % r;
    return node.inputs.every((_, i) => typeof inShape(i)?.[axis] === 'number') ? undefined : 'input sizes along the axis unknown';
  },
  backward(ctx, [dy], need) {
    const r = ctx.inShape(0)!.length;
    const axis = (attrOf(ctx.node, 'axis') + r) % r;
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
  check: (node) =>
    node.attributes.has('min') || node.attributes.has('max') ? 'bounds as attributes (opset < 11); re-export at opset ≥ 11' : undefined,
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
  ['MatMul', matMulAnyRule],
  ['Add', binaryRule((_c, dy) => dy)],
  ['Sub', binaryRule((c, dy, i) => (i === 0 ? dy : c.e.op('Neg', [dy])))],
  ['Mul', binaryRule((c, dy, i) => c.e.mul(dy, c.x(1 - i)!))],
  [
    'Div',
    {
      ...binaryRule((c, dy, i) =>
        i === 0 ? c.e.op('Div', [dy, c.x(1)!]) : c.e.op('Neg', [c.e.op('Div', [c.e.mul(dy, c.y(0)), c.x(1)!])]),
      ),
      trainable: [],
    },
  ],
  ['Relu', unaryRule((c, dy) => c.e.op('Where', [c.e.op('Greater', [c.x(0)!, c.e.f32(0)]), dy, c.e.f32(0)]))],
  [
    'LeakyRelu',
    unaryRule((c, dy) => c.e.op('Where', [c.e.op('Greater', [c.x(0)!, c.e.f32(0)]), dy, c.e.scale(dy, attrOf(c.node, 'alpha'))])),
  ],
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
  ['LayerNormalization', layerNormRule],
  ['Softmax', softmaxRule],
  ['Erf', erfRule],
  ['Gelu', geluRule],
  ['Where', whereRule],
  ['Gather', gatherRule],
  ['Shape', constantRule],
  ['Size', constantRule],
]);
