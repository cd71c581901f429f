import { McError, type Model, type Value, inferShapes, modelStats, normalizeWeights } from '@mc/ir';
import { Emitter } from './emit.js';
import { assertNotQuantized, foldConstantReshapes } from './graph-utils.js';
import { raiseOpset } from './opset-upgrade.js';
import { foldConvBiasAdds } from './prepare.js';
import { noteZeroSize, zeroSizeWeightNodes } from './zero-size.js';
import { toQOperator } from './qoperator.js';
import { namesOf, slimModel } from './slim.js';
import { quantizeBnb4Mode } from './modes/bnb4.js';
import { quantizeKMeans, quantizeSignsMode } from './modes/codebook.js';
import { convertFp16 } from './modes/fp16.js';
import { planFp16 } from './modes/fp16-plan.js';
import { int4ConvPlan, quantizeInt4 } from './modes/int4.js';
import { quantizeQ4f16 } from './modes/q4f16.js';
import { quantizeInt8Dynamic } from './modes/int8-dynamic.js';
import { quantizeInt8Static } from './modes/int8-static.js';
import { quantizeInt8Weights } from './modes/int8-weights.js';
import type { QuantizeOptions } from './options.js';
import { validateOptions } from './validate.js';
import { type QuantizeReport, ReportBuilder } from './report.js';

/**
 * value_info entries that describe a value a mode replaced (same name, another Value now, often of another type such
 * as float16) would make onnxruntime refuse the model: each entry is pointed at the graph's current value of that
 * name, or dropped when no value has it any more.
 */
function refreshValueInfo(model: Model): void {
  const g = model.graph;
  if (g.valueInfo.length === 0) return;
  const current = new Map<string, Value>();
  for (const v of g.inputs) current.set(v.name, v);
  for (const n of g.nodes) for (const o of n.outputs) current.set(o.name, o);
  const kept = g.valueInfo.flatMap((v) => {
    const c = current.get(v.name);
    return c === undefined ? [] : [c];
  });
  g.valueInfo.length = 0;
  g.valueInfo.push(...kept);
}

/** What {@link quantize} returns. */
export interface QuantizeResult {
  readonly model: Model;
  readonly report: QuantizeReport;
}

/**
 * Opset each mode needs: per-axis DequantizeLinear is opset 13, int4 `block_size` is opset 21. The k-means unpacking
 * ops (BitShift, Mod, Unsqueeze with an axes input) are opset 13.
 */
function minOpset(opts: QuantizeOptions): number {
  switch (opts.mode) {
    case 'fp16':
    case 'bf16':
    case 'bnb4':
      return 0;
    case 'int4':
      return opts.format === 'dequantize' ? 21 : opts.embeddings === 'int8-dq' ? 13 : 0;
    case 'q4f16':
      return opts.embeddings === 'int8-dq' ? 13 : 0;
    default:
      return 13;
  }
}

/**
 * Quantizes a model. The input is never changed: the work happens on a clone that shares the (immutable) tensors.
 * Options are checked before any work; nodes a mode does not handle pass through unchanged and are listed in
 * `report.passedThrough`.
 *
 * @example
 * ```ts
 * import { loadOnnx, saveOnnx } from '@mc/io-onnx';
 * import { quantize } from '@mc/quantize';
 * const { model, report } = await quantize(await loadOnnx('mnist.onnx'), { mode: 'int8-weights' });
 * await saveOnnx(model, 'mnist.int8.onnx');
 * console.log(report.before.paramBytes, '→', report.after.paramBytes);
 * ```
 */
export async function quantize(input: Model, opts: QuantizeOptions): Promise<QuantizeResult> {
  validateOptions(opts);
  if (opts.mode === 'bf16') {
    throw new McError(
      'E_UNSUPPORTED',
      'bf16: onnxruntime 1.30 has no bfloat16 kernels for MatMul, Gemm, Conv, Add, Mul, Relu, Softmax or pooling on the CPU (measured: session creation fails with "Could not find an implementation"), so a bfloat16 model would not run; use mode fp16 (same size) or int8-weights',
    );
  }
  assertNotQuantized(input, opts.mode);
  opts.signal?.throwIfAborted();
  const model = input.clone();
  // Weights in Constant nodes (Paddle2ONNX) or behind Identity nodes (torch.onnx) become initializers, so the modes
  // find them; a shared weight is quantized once for all its readers (the modes cache per weight).
  normalizeWeights(model);
  inferShapes(model); // known shapes are carried over to the values that replace rewritten nodes' outputs
  const before = modelStats(model);
  const emit = new Emitter(model.graph);
  const report = new ReportBuilder();
  const oldIr = model.irVersion;
  const convInt4 =
    opts.mode === 'int4' ? int4ConvPlan(model, opts) : opts.mode === 'q4f16' ? int4ConvPlan(model, { ...opts, mode: 'int4' }) : undefined;
  const need = Math.max(minOpset(opts), convInt4?.opset ?? 0);
  if (need > 0) raiseOpset(model, need, emit);
  if (oldIr < 4) {
    // IR < 4 required every initializer to be a graph input too; from IR 4 such inputs are overridable and block
    // constant folding in onnxruntime, so they are dropped from the inputs when the IR version is raised.
    if (model.irVersion < 7) model.irVersion = 7;
    const g = model.graph;
    for (let i = g.inputs.length - 1; i >= 0; i--) if (g.inputs[i]!.isInitializer()) g.inputs.splice(i, 1);
  }
  const names = namesOf(model);
  foldConstantReshapes(model, emit);
  foldConvBiasAdds(model);
  // Zero-size weights pass through every mode untouched (excluded, with their own reason in the report).
  const zero = zeroSizeWeightNodes(model);
  const zeroOps = new Map(model.graph.nodes.filter((n) => zero.has(n.name)).map((n) => [n.name, n.opType]));
  opts = zero.size === 0 ? opts : { ...opts, exclude: [...(opts.exclude ?? []), ...zero.keys()] };
  switch (opts.mode) {
    case 'fp16':
      convertFp16(model, opts, emit, report, await planFp16(model, opts, report));
      break;
    case 'int8-weights':
      quantizeInt8Weights(model, opts, emit, report);
      break;
    case 'int8-dynamic':
      quantizeInt8Dynamic(model, opts, emit, report);
      break;
    case 'int8-static':
      await quantizeInt8Static(model, opts, emit, report);
      if (opts.format === 'qoperator') {
        toQOperator(model);
        // The report speaks of the op each layer became.
        const fused = new Map(
          model.graph.nodes.filter((n) => n.opType === 'QLinearConv' || n.opType === 'QLinearMatMul').map((n) => [n.name, n.opType]),
        );
        report.nodes.forEach((r, i) => {
          const op = fused.get(r.node);
          if (op !== undefined && r.action.startsWith('QDQ ')) report.nodes[i] = { ...r, action: `${op}: ${r.action.slice(4)}` };
        });
      }
      break;
    case 'int4':
      await quantizeInt4(model, opts, emit, report, convInt4?.refusal);
      break;
    case 'q4f16':
      await quantizeQ4f16(model, opts, emit, report, convInt4?.refusal);
      break;
    case 'bnb4':
      quantizeBnb4Mode(model, opts, emit, report);
      break;
    case 'kmeans':
      quantizeKMeans(model, opts, emit, report);
      break;
    case 'binary':
    case 'ternary':
      quantizeSignsMode(model, opts, emit, report);
      break;
  }
  noteZeroSize(report.passedThrough, zero, zeroOps);
  model.graph.topoSort();
  inferShapes(model); // graph outputs and new values get their types (ONNX requires a type on every graph output)
  refreshValueInfo(model);
  const slim = opts.keepMetadata === true ? undefined : slimModel(model, names, { shortNames: opts.names === 'short' });
  opts.onProgress?.({ phase: 'quantize', done: 1, total: 1 });
  const after = modelStats(model);
  return {
    model,
    report: {
      technique: 'quantize',
      mode: opts.mode,
      before,
      after,
      nodes: report.nodes,
      passedThrough: report.passedThrough,
      warnings: report.warnings,
      ...(report.calibration !== undefined && { calibration: report.calibration }),
      ...(slim !== undefined && { slim }),
    },
  };
}
