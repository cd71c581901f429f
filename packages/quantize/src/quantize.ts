import { McError, type Model, type Value, inferShapes, modelStats, normalizeWeights } from '@mc/ir';
import { Emitter } from './emit.js';
import { assertNotQuantized, foldConstantReshapes } from './graph-utils.js';
import { raiseOpset } from './opset-upgrade.js';
import { foldConvBiasAdds } from './prepare.js';
import { noteZeroSize, zeroSizeWeightNodes } from './zero-size.js';
import { namesOf, slimModel } from './slim.js';
import { modeOf } from './mode-table.js';
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
  const spec = modeOf(opts);
  spec.validate?.(opts);
  if (spec.refusal !== undefined) throw new McError('E_UNSUPPORTED', spec.refusal);
  assertNotQuantized(input, opts.mode, spec);
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
  const plan = spec.plan(model, opts);
  if (plan.opset > 0) raiseOpset(model, plan.opset, emit);
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
  await spec.apply(model, opts, { emit, report }, plan);
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
