import { McError, type Model, type Node, Tensor, type Value, attr, biasOf, opInfo, toFloat32, weightOf } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { isExcluded } from '../graph-utils.js';
import { entropyRange } from '../kernels/entropy.js';
import { HistogramCollector, percentileRange } from '../kernels/histogram.js';
import { MinMaxCollector } from '../kernels/minmax.js';
import { computeQParams, roundHalfEven } from '../kernels/qparams.js';
import type { Feeds, Int8StaticOptions } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { ortNodeRunner } from '../runner.js';
import { dequantizedWeight } from './int8-weights.js';

const QUANTIZABLE = new Set(['Conv', 'MatMul', 'Gemm']);

/** Nodes that get QDQ, and the activation tensors that need a calibrated range. */
function plan(model: Model, opts: Int8StaticOptions, report: ReportBuilder): { nodes: Node[]; tensors: Value[] } {
  const nodes: Node[] = [];
  const tensors = new Set<Value>();
  for (const node of model.graph.nodes) {
    const w = weightOf(node);
    if (w === undefined) {
      if (opInfo(node) === undefined || node.domain !== '') report.pass(node, 'not a Conv/MatMul/Gemm with a constant weight');
      continue;
    }
    const why = isExcluded(node, opts.exclude)
      ? 'excluded by option'
      : !QUANTIZABLE.has(node.opType)
        ? `${node.opType} is kept in float`
        : w.tensor === undefined || !w.value.isInitializer() || w.tensor.dtype !== 'float32'
          ? `weight '${w.value.name}' is not a float32 initializer`
          : undefined;
    if (why !== undefined) {
      report.pass(node, why);
      continue;
    }
    nodes.push(node);
    tensors.add(node.inputs[0]!);
    const out = node.outputs[0]!;
    if (!out.isGraphOutput()) tensors.add(out);
  }
  return { nodes, tensors: [...tensors] };
}

function checkFeeds(model: Model, feeds: Feeds, batch: number): void {
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer());
  for (const v of inputs) {
    const t = feeds[v.name];
    if (t === undefined) {
      throw new McError('E_OPTION', `calibration batch ${batch} has no tensor for model input '${v.name}' (it has ${Object.keys(feeds).join(', ') || 'nothing'}); feed every graph input by name`);
    }
    const shape = v.shape;
    const bad = shape !== undefined && (shape.length !== t.dims.length || shape.some((d, i) => typeof d === 'number' && d !== t.dims[i]));
    if (bad || (v.dtype !== undefined && v.dtype !== t.dtype)) {
      throw new McError(
        'E_OPTION',
        `calibration batch ${batch}: input '${v.name}' is ${t.dtype}[${t.dims.join(', ')}] but the model expects ${v.dtype ?? '?'}[${(shape ?? []).map((d) => d ?? '?').join(', ')}]; reshape the calibration data to the model's input`,
      );
    }
  }
}

/**
 * Streams the calibration batches through the model with the activation tensors exposed as outputs and returns
 * their ranges (minmax, or a merged histogram reduced by percentile/entropy).
 * @internal
 */
export async function calibrate(model: Model, tensors: readonly Value[], opts: Int8StaticOptions, report: ReportBuilder): Promise<Map<string, [number, number]>> {
  const method = opts.method ?? 'minmax';
  const probe = model.clone();
  const names = tensors.map((t) => t.name);
  const byName = new Map<string, Value>();
  for (const n of probe.graph.nodes) for (const o of n.outputs) byName.set(o.name, o);
  for (const v of probe.graph.inputs) byName.set(v.name, v);
  for (const name of names) {
    const v = byName.get(name);
    if (v !== undefined && !v.isGraphInput() && !v.isGraphOutput()) {
      v.dtype = 'float32';
      probe.graph.addOutput(v);
    }
  }
  const fetch = names.filter((n) => byName.get(n)?.isGraphInput() !== true);
  const minmax = new Map(names.map((n) => [n, new MinMaxCollector()]));
  const hist = new Map(names.map((n) => [n, new HistogramCollector(opts.bins ?? 2048)]));
  const runner = opts.runner ?? ortNodeRunner();
  const session = await runner.open(probe);
  let batches = 0;
  try {
    const source = toAsync(opts.calibration);
    for await (const feeds of source) {
      opts.signal?.throwIfAborted();
      checkFeeds(model, feeds, batches);
      const res = fetch.length > 0 ? await session.run(feeds, fetch) : {};
      for (const n of names) {
        const data = res[n] ?? (feeds[n]?.dtype === 'float32' ? (feeds[n]!.data as Float32Array) : undefined);
        if (data === undefined) continue;
        if (method === 'minmax') minmax.get(n)!.collect(data);
        else hist.get(n)!.collect(data);
      }
      batches++;
      opts.onProgress?.({ phase: 'calibrate', done: batches });
    }
  } finally {
    await session.close();
  }
  if (batches === 0) {
    throw new McError('E_OPTION', 'int8-static: the calibration data yielded no batches; pass at least one batch of input feeds');
  }
  const ranges = new Map<string, [number, number]>();
  for (const n of names) {
    const r = method === 'minmax' ? minmax.get(n)!.range() : method === 'percentile' ? percentileRange(hist.get(n)!, opts.percentile ?? 99.999) : entropyRange(hist.get(n)!, 128);
    ranges.set(n, r);
  }
  report.calibration = { method, batches, ranges: Object.fromEntries(ranges) };
  return ranges;
}

/**
 * Static int8 in QDQ form (onnxruntime's default S8S8): each calibrated activation gets QuantizeLinear →
 * DequantizeLinear (int8 asymmetric, or uint8), weights get DequantizeLinear with per-channel symmetric int8, and a
 * bias becomes int32 with scale x_scale·w_scale (zero point 0), which is what onnxruntime's QDQ fusion expects
 * (https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html). Graph outputs stay float.
 * @internal
 */
export async function quantizeInt8Static(model: Model, opts: Int8StaticOptions, emit: Emitter, report: ReportBuilder): Promise<void> {
  const { nodes, tensors } = plan(model, opts, report);
  if (nodes.length === 0) return;
  const ranges = await calibrate(model, tensors, opts, report);
  const act = opts.activationType ?? 'int8';
  const reduceRange = opts.reduceRange ?? false;
  const perChannel = opts.perChannel ?? true;
  const g = model.graph;
  const qdq = new Map<Value, { value: Value; scale: number }>();
  const quantized = (v: Value): { value: Value; scale: number } => {
    const known = qdq.get(v);
    if (known !== undefined) return known;
    const [lo, hi] = ranges.get(v.name) ?? [0, 0];
    const p = computeQParams(lo, hi, act);
    const s = emit.init(`${v.name}_scale`, new Tensor('float32', [], new Float32Array([p.scale])));
    const z = emit.init(`${v.name}_zero_point`, new Tensor(act, [], (act === 'int8' ? new Int8Array([p.zeroPoint]) : new Uint8Array([p.zeroPoint])) as never));
    const producer = v.producer();
    const uses = [...v.uses()];
    const at = producer === undefined ? g.nodes[0]! : nextNode(g, producer);
    const [q] = emit.node(at, 'QuantizeLinear', [v, s, z], { name: `${v.name}_QuantizeLinear`, dtypes: [act] });
    const [dq] = emit.node(at, 'DequantizeLinear', [q!, s, z], { name: `${v.name}_DequantizeLinear`, dtypes: ['float32'] });
    dq!.shape = v.shape;
    for (const u of uses) u.node.replaceInput(u.index, dq!);
    const r = { value: dq!, scale: p.scale };
    qdq.set(v, r);
    return r;
  };
  const wdone = new Map<Value, { value: Value; scales: number[] }>();
  for (const node of nodes) {
    const x = quantized(node.inputs[0]!);
    const w = weightOf(node)!;
    let wr = wdone.get(w.value);
    const t = w.tensor!;
    if (wr === undefined) {
      const r = dequantizedWeight(emit, node, w.value.name, t, perChannel ? w.outAxis : undefined, 'int8', { symmetric: true, reduceRange });
      wr = { value: r.value, scales: r.params.map((p) => p.scale) };
      wdone.set(w.value, wr);
      report.done(node, `QDQ int8 activations, int8 weight ${perChannel ? `per-channel (axis ${w.outAxis})` : 'per-tensor'} symmetric`, t.byteLength, r.bytesAfter, r.maxAbsError);
    } else {
      report.done(node, 'QDQ int8 (shared weight)', 0, 0);
    }
    node.replaceInput(w.index, wr.value);
    const b = biasOf(node);
    if (b?.tensor !== undefined && b.value.isInitializer() && b.tensor.dtype === 'float32' && node.opType !== 'Gemm') {
      const bf = toFloat32(b.tensor);
      const scales = Float32Array.from(bf, (_, c) => Math.fround(x.scale * (wr!.scales[wr!.scales.length === 1 ? 0 : c] ?? 1)));
      const q = Int32Array.from(bf, (v, c) => roundHalfEven(v / scales[c]!));
      const per = wr.scales.length > 1;
      const qi = emit.init(`${b.value.name}_int32`, new Tensor('int32', b.tensor.dims, q));
      const si = emit.init(`${b.value.name}_scale`, per ? new Tensor('float32', [scales.length], scales) : new Tensor('float32', [], new Float32Array([scales[0]!])));
      const [bd] = emit.node(node, 'DequantizeLinear', [qi, si], { name: `${b.value.name}_DequantizeLinear`, ...(per && { attrs: { axis: attr.int(0) } }), dtypes: ['float32'] });
      node.replaceInput(b.index, bd!);
    }
    const out = node.outputs[0]!;
    if (!out.isGraphOutput() && ranges.has(out.name)) quantized(out);
  }
  for (const v of [...g.initializers.values()]) if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
}

function nextNode(g: Model['graph'], n: Node): Node | undefined {
  const nodes = g.nodes;
  const i = nodes.indexOf(n);
  return nodes[i + 1];
}

function toAsync(it: AsyncIterable<Feeds> | Iterable<Feeds>): AsyncIterable<Feeds> {
  if (Symbol.asyncIterator in it) return it;
  return (async function* () {
    yield* it;
  })();
}
