import { attr, type Value } from '@mc/ir';
import { isObject, type JsonValue } from './keras-format.js';
import type { LowerContext } from './lower-context.js';

/** Keras activation name from a config value (`'relu'`, Keras 3 `{class_name: 'function', config: 'relu'}`, `null`). @internal */
export function activationName(v: JsonValue | undefined): string {
  if (v === undefined || v === null) return 'linear';
  if (typeof v === 'string') return v;
  if (isObject(v)) {
    if (typeof v.config === 'string') return v.config;
    if (isObject(v.config) && typeof v.config.name === 'string') return v.config.name;
    if (typeof v.class_name === 'string') return v.class_name;
  }
  return String(v);
}

type Lower = (ctx: LowerContext, x: Value, axis: number, keras3: boolean) => Value;

/** Float attributes must be FLOAT even when whole (ONNX Elu alpha=1.0). */
const floats = (a: Record<string, number>): Record<string, ReturnType<typeof attr.float>> =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, attr.float(v)]));

const unary =
  (op: string, attrs: Record<string, number> = {}): Lower =>
  (ctx, x) =>
    ctx.node(op, [x], floats(attrs));

const clip =
  (lo: number, hi: number): Lower =>
  (ctx, x) =>
    ctx.node('Clip', [x, ctx.scalar(`clip_min`, lo), ctx.scalar(`clip_max`, hi)]);

/**
 * Every Keras activation, lowered to ONNX ops (https://onnx.ai/onnx/operators/). Formulas follow
 * `keras/src/activations/activations.py`; Keras 2 and Keras 3 differ only in `hard_sigmoid` (0.2x+0.5 vs x/6+0.5).
 */
const ACTIVATIONS: Record<string, Lower> = {
  linear: (_c, x) => x,
  relu: unary('Relu'),
  relu6: clip(0, 6),
  sigmoid: unary('Sigmoid'),
  tanh: unary('Tanh'),
  softmax: (ctx, x, axis) => ctx.node('Softmax', [x], { axis }),
  log_softmax: (ctx, x, axis) => ctx.node('LogSoftmax', [x], { axis }),
  elu: unary('Elu', { alpha: 1.0 }),
  // ONNX Selu defaults equal Keras' alpha=1.67326324, scale=1.05070098.
  selu: unary('Selu'),
  celu: unary('Celu', { alpha: 1.0 }),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  exponential: unary('Exp'),
  hard_sigmoid: (ctx, x, _a, keras3) =>
    ctx.node('HardSigmoid', [x], floats(keras3 ? { alpha: 1 / 6, beta: 0.5 } : { alpha: 0.2, beta: 0.5 })),
  hard_silu: unary('HardSwish'),
  hard_swish: unary('HardSwish'),
  hard_tanh: clip(-1, 1),
  swish: (ctx, x) => ctx.node('Mul', [x, ctx.node('Sigmoid', [x])]),
  silu: (ctx, x) => ctx.node('Mul', [x, ctx.node('Sigmoid', [x])]),
  mish: (ctx, x) => ctx.node('Mul', [x, ctx.node('Tanh', [ctx.node('Softplus', [x])])]),
  // gelu(approximate=False) = 0.5 x (1 + erf(x / sqrt 2)); ONNX Gelu needs opset 20, so it is composed.
  gelu: (ctx, x) => {
    const e = ctx.node('Erf', [ctx.node('Mul', [x, ctx.scalar('inv_sqrt2', Math.SQRT1_2)])]);
    return ctx.node('Mul', [ctx.node('Mul', [x, ctx.scalar('half', 0.5)]), ctx.node('Add', [e, ctx.scalar('one', 1)])]);
  },
  leaky_relu: unary('LeakyRelu', { alpha: 0.2 }),
  log_sigmoid: (ctx, x) => ctx.node('Neg', [ctx.node('Softplus', [ctx.node('Neg', [x])])]),
  tanh_shrink: (ctx, x) => ctx.node('Sub', [x, ctx.node('Tanh', [x])]),
  soft_shrink: unary('Shrink', { bias: 0.5, lambd: 0.5 }),
  hard_shrink: unary('Shrink', { bias: 0, lambd: 0.5 }),
};

/**
 * Names of the activations mc lowers.
 *
 * @example
 * ```ts
 * KNOWN_ACTIVATIONS.includes('gelu'); // true
 * ```
 */
export const KNOWN_ACTIVATIONS: readonly string[] = Object.keys(ACTIVATIONS);

/**
 * Applies a Keras activation to `x` (already in the layout the caller chose; `axis` is softmax's axis there).
 * Throws E_UNSUPPORTED naming the layer for an activation mc does not know.
 * @internal
 */
export function applyActivation(ctx: LowerContext, x: Value, act: JsonValue | undefined, axis: number, keras3: boolean): Value {
  const name = activationName(act);
  const lower = ACTIVATIONS[name];
  if (lower === undefined) {
    throw ctx.error(
      'E_UNSUPPORTED',
      `uses activation '${name}', which mc does not know (known: ${KNOWN_ACTIVATIONS.join(', ')}); replace it with a standard activation or an Activation layer before converting`,
    );
  }
  return lower(ctx, x, axis, keras3);
}

/** Activation name of a chain of IR op types emitted above (inverse of `applyActivation`, used by the writer). @internal */
export function activationFromOps(ops: readonly string[], attrs: { alpha?: number; clip?: [number, number] } = {}): string | undefined {
  const key = ops.join(',');
  switch (key) {
    case '':
      return 'linear';
    case 'Relu':
      return 'relu';
    case 'Sigmoid':
      return 'sigmoid';
    case 'Tanh':
      return 'tanh';
    case 'Softmax':
      return 'softmax';
    case 'LogSoftmax':
      return 'log_softmax';
    case 'Elu':
      return 'elu';
    case 'Selu':
      return 'selu';
    case 'Softplus':
      return 'softplus';
    case 'Softsign':
      return 'softsign';
    case 'Exp':
      return 'exponential';
    case 'HardSigmoid':
      return 'hard_sigmoid';
    case 'Sigmoid,Mul':
      return 'swish';
    case 'Clip':
      return attrs.clip?.[0] === 0 && attrs.clip[1] === 6
        ? 'relu6'
        : attrs.clip?.[0] === -1 && attrs.clip[1] === 1
          ? 'hard_tanh'
          : undefined;
    default:
      return undefined;
  }
}
