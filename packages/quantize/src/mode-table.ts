import type { Model } from '@mc/ir';
import type { Emitter } from './emit.js';
import { quantizeBnb4Mode } from './modes/bnb4.js';
import { quantizeKMeans, quantizeSignsMode } from './modes/codebook.js';
import { convertFp16 } from './modes/fp16.js';
import { planFp16 } from './modes/fp16-plan.js';
import { int4ConvPlan, quantizeInt4 } from './modes/int4.js';
import { quantizeInt8Dynamic } from './modes/int8-dynamic.js';
import { quantizeInt8Static } from './modes/int8-static.js';
import { quantizeInt8Weights } from './modes/int8-weights.js';
import { quantizeQ4f16 } from './modes/q4f16.js';
import type { QuantizeMode, QuantizeOptions } from './options.js';
import { toQOperator } from './qoperator.js';
import type { ReportBuilder } from './report.js';
import { validateBnb4, validateFp16, validateInt4, validateInt8Static, validateKMeans } from './validate.js';

/** The options type of one mode (`SignOptions` serves both 'binary' and 'ternary'). */
export type OptionsOf<M extends QuantizeMode> = QuantizeOptions extends infer O
  ? O extends { readonly mode: infer N }
    ? M extends N
      ? O
      : never
    : never
  : never;

/** What a mode decides from the prepared model before the opset is raised. @internal */
export interface ModePlan {
  /** Opset the output needs (0: any). */
  readonly opset: number;
  /** Why Conv weights stay float32 (the model's opset cannot be raised to what they need), for the report. */
  readonly convRefusal?: string;
}

/** Where a mode writes: the graph emitter and the report. @internal */
export interface ModeContext {
  readonly emit: Emitter;
  readonly report: ReportBuilder;
}

/**
 * Everything {@link quantize} needs to know about one mode: its checks, its requirements and its implementation.
 * Adding a mode is one entry in {@link MODES} (and its options type in the `QuantizeOptions` union).
 * @internal
 */
export interface ModeSpec<O extends QuantizeOptions> {
  /** Mode-specific option checks after the common ones; throws McError('E_OPTION') with the fix. */
  readonly validate?: (opts: O) => void;
  /** Why the mode is refused before any work (McError('E_UNSUPPORTED')), when it produces nothing a runtime runs. */
  readonly refusal?: string;
  /** A model that already has float16/bfloat16 weights is refused (the mode converts float32 to a half type). */
  readonly refusesHalfWeights: boolean;
  /** Added to the "already quantized" refusal when the model holds int4 weight ops (MatMulNBits, GatherBlockQuantized). */
  readonly int4Hint?: string;
  /** Opset the output needs, from the prepared model (weights normalized, shapes inferred). */
  readonly plan: (model: Model, opts: O) => ModePlan;
  /** Rewrites the prepared model in place; `opts.exclude` already lists the zero-size weights. */
  readonly apply: (model: Model, opts: O, ctx: ModeContext, plan: ModePlan) => void | Promise<void>;
}

/** Per-axis DequantizeLinear and the k-means unpacking ops (BitShift, Mod, Unsqueeze with an axes input): opset 13. */
const OPSET_13: ModePlan = { opset: 13 };
const ANY_OPSET: ModePlan = { opset: 0 };

/** int4 `block_size` on DequantizeLinear is opset 21; per-row int8 embeddings need opset 13; Conv weights their own. */
function int4Plan(model: Model, opts: OptionsOf<'int4'>): ModePlan {
  const own = opts.format === 'dequantize' ? 21 : opts.embeddings === 'int8-dq' ? 13 : 0;
  const conv = int4ConvPlan(model, opts);
  return { opset: Math.max(own, conv.opset), ...(conv.refusal !== undefined && { convRefusal: conv.refusal }) };
}

/** int8-static then, with format 'qoperator', the QOperator rewrite; the report speaks of the op each layer became. */
async function int8Static(model: Model, opts: OptionsOf<'int8-static'>, { emit, report }: ModeContext): Promise<void> {
  await quantizeInt8Static(model, opts, emit, report);
  if (opts.format !== 'qoperator') return;
  toQOperator(model);
  const fused = new Map(
    model.graph.nodes.filter((n) => n.opType === 'QLinearConv' || n.opType === 'QLinearMatMul').map((n) => [n.name, n.opType]),
  );
  report.nodes.forEach((r, i) => {
    const op = fused.get(r.node);
    if (op !== undefined && r.action.startsWith('QDQ ')) report.nodes[i] = { ...r, action: `${op}: ${r.action.slice(4)}` };
  });
}

const BF16_REFUSAL =
  'bf16: onnxruntime 1.30 has no bfloat16 kernels for MatMul, Gemm, Conv, Add, Mul, Relu, Softmax or pooling on the CPU (measured: session creation fails with "Could not find an implementation"), so a bfloat16 model would not run; use mode fp16 (same size) or int8-weights';

/**
 * The modes of {@link quantize}: name → checks, requirements, implementation. Every mode-dependent decision of the
 * package reads this table.
 * @internal
 */
export const MODES: { readonly [M in QuantizeMode]: ModeSpec<OptionsOf<M>> } = {
  fp16: {
    validate: validateFp16,
    refusesHalfWeights: true,
    int4Hint: ', with mode q4f16 for int4 weights and float16 everything else',
    plan: () => ANY_OPSET,
    apply: async (model, opts, { emit, report }) => convertFp16(model, opts, emit, report, await planFp16(model, opts, report)),
  },
  bf16: {
    refusal: BF16_REFUSAL,
    refusesHalfWeights: true,
    plan: () => ANY_OPSET,
    apply: () => {},
  },
  'int8-weights': {
    refusesHalfWeights: false,
    plan: () => OPSET_13,
    apply: (model, opts, { emit, report }) => quantizeInt8Weights(model, opts, emit, report),
  },
  'int8-dynamic': {
    refusesHalfWeights: false,
    plan: () => OPSET_13,
    apply: (model, opts, { emit, report }) => quantizeInt8Dynamic(model, opts, emit, report),
  },
  'int8-static': {
    validate: validateInt8Static,
    refusesHalfWeights: false,
    plan: () => OPSET_13,
    apply: int8Static,
  },
  int4: {
    validate: validateInt4,
    refusesHalfWeights: false,
    plan: int4Plan,
    apply: (model, opts, { emit, report }, plan) => quantizeInt4(model, opts, emit, report, plan.convRefusal),
  },
  q4f16: {
    validate: validateInt4,
    refusesHalfWeights: false,
    // q4f16's int4 part is MatMulNBits: only the embeddings and the Conv weights may raise the opset.
    plan: (model, opts) => int4Plan(model, { ...opts, mode: 'int4' }),
    apply: (model, opts, { emit, report }, plan) => quantizeQ4f16(model, opts, emit, report, plan.convRefusal),
  },
  bnb4: {
    validate: validateBnb4,
    refusesHalfWeights: false,
    // com.microsoft.MatMulBnb4 has no opset requirement of the default domain.
    plan: () => ANY_OPSET,
    apply: (model, opts, { emit, report }) => quantizeBnb4Mode(model, opts, emit, report),
  },
  kmeans: {
    validate: validateKMeans,
    refusesHalfWeights: false,
    plan: () => OPSET_13,
    apply: (model, opts, { emit, report }) => quantizeKMeans(model, opts, emit, report),
  },
  binary: {
    refusesHalfWeights: false,
    plan: () => OPSET_13,
    apply: (model, opts, { emit, report }) => quantizeSignsMode(model, opts, emit, report),
  },
  ternary: {
    refusesHalfWeights: false,
    plan: () => OPSET_13,
    apply: (model, opts, { emit, report }) => quantizeSignsMode(model, opts, emit, report),
  },
};

/** The table entry of `opts.mode`, typed for those options. @internal */
export function modeOf<O extends QuantizeOptions>(opts: O): ModeSpec<O> {
  return MODES[opts.mode] as unknown as ModeSpec<O>;
}
