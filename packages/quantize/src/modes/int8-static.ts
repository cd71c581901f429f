import { McError, type Model, type Node, Tensor, type Value, attr, biasOf, toFloat32, weightOf, slotOf } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { isExcluded } from '../graph-utils.js';
import { entropyRange } from '../kernels/entropy.js';
import { HistogramCollector, percentileRange } from '../kernels/histogram.js';
import { MinMaxCollector } from '../kernels/minmax.js';
import { computeQParams, qRange, roundHalfEven } from '../kernels/qparams.js';
import type { Feeds, Int8StaticOptions } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { ortNodeRunner } from '../runner.js';
import { dequantizedWeight } from './int8-weights.js';
import { weightedNodes } from './weights.js';

const QUANTIZABLE = new Set(['Conv', 'MatMul', 'Gemm']);

/**
 * Ops whose output holds values of their input, moved or selected (never computed): a tensor on the int8 grid stays
 * on it, so no new Q/DQ is needed after them. onnxruntime moves a DequantizeLinear forward through the first group
 * (QDQPropagationTransformer) and runs them on int8; after the others the consumer gets its own Q/DQ pair with the
 * same scale and zero point (exact: the values are already on that grid).
 */
const ORT_PROPAGATES = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Identity']);
const MOVES_VALUES = new Set([...ORT_PROPAGATES, 'Flatten']);

/** Where an activation gets its Q/DQ pair: tensor `at`, with the calibrated range of `range`. */
interface Site {
  readonly at: Value;
  readonly range: Value;
  /** A Relu after a quantized layer, dropped when the range starts at 0 (the zero point then clamps as Relu does). */
  readonly relu?: Node;
  /**
   * Tensors read by layers through value-moving ops (a MaxPool output): their calibrated range widens the site's, so
   * a percentile or entropy range does not clip the maxima a MaxPool picks.
   */
  readonly also: Set<Value>;
}

/** Follows `x` back through value-moving ops to the tensor that is quantized for it. */
function siteOf(x: Value, planned: ReadonlySet<Node>): { site: Site; direct: boolean } {
  let v = x;
  let direct = true;
  for (;;) {
    const p = v.producer();
    if (p === undefined || p.domain !== '' || !MOVES_VALUES.has(p.opType) || p.outputs[0] !== v || slotOf(p, 'input') === undefined) break;
    if (p.outputs.slice(1).some((o) => o.uses().length > 0 || o.isGraphOutput())) break;
    if (!ORT_PROPAGATES.has(p.opType)) direct = false;
    v = slotOf(p, 'input')!;
  }
  const also = new Set(v === x ? [] : [x]);
  const relu = v.producer();
  const u = relu?.opType === 'Relu' && relu.domain === '' ? slotOf(relu, 'X') : undefined;
  const layer = u?.producer();
  if (
    relu?.opType === 'Relu' &&
    relu.domain === '' &&
    u !== undefined &&
    layer !== undefined &&
    planned.has(layer) &&
    u.uses().length === 1 &&
    !u.isGraphOutput() &&
    !v.isGraphOutput()
  ) {
    return { site: { at: u, range: v, relu, also }, direct };
  }
  return { site: { at: v, range: v, also }, direct };
}

/** Nodes that get QDQ, and where their activations are quantized. */
function plan(
  model: Model,
  opts: Int8StaticOptions,
  report: ReportBuilder,
): { nodes: Node[]; sites: Map<Value, Site>; inputs: Map<Node, { site: Site; direct: boolean }> } {
  const nodes: Node[] = [];
  for (const { node, w } of weightedNodes(model, report, 'not a Conv/MatMul/Gemm with a constant weight')) {
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
  }
  const planned = new Set(nodes);
  const sites = new Map<Value, Site>();
  const inputs = new Map<Node, { site: Site; direct: boolean }>();
  for (const node of nodes) {
    const s = siteOf(slotOf(node, 'input')!, planned);
    const known = sites.get(s.site.at);
    if (known === undefined) sites.set(s.site.at, s.site);
    else for (const a of s.site.also) known.also.add(a);
    inputs.set(node, { site: known ?? s.site, direct: s.direct });
  }
  // Layer outputs are quantized too: onnxruntime's QLinearConv / QLinearMatMul / QGemm need the output's scale
  // (measured with onnxruntime 1.30: a DQ→MatMul or DQ→Gemm without an output Q stays a float Gemm). A Relu reading
  // only the layer's output lends its range and goes. Graph outputs stay float.
  for (const node of nodes) {
    const out = node.outputs[0]!;
    if (out.isGraphOutput() || sites.has(out)) continue;
    const users = out.uses();
    const relu = users.length === 1 && users[0]!.node.opType === 'Relu' && users[0]!.node.domain === '' ? users[0]!.node : undefined;
    const r = relu?.outputs[0];
    sites.set(
      out,
      relu !== undefined && r !== undefined && !r.isGraphOutput()
        ? { at: out, range: r, relu, also: new Set() }
        : { at: out, range: out, also: new Set() },
    );
  }
  return { nodes, sites, inputs };
}

function checkFeeds(model: Model, feeds: Feeds, batch: number): void {
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer());
  for (const v of inputs) {
    const t = feeds[v.name];
    if (t === undefined) {
      throw new McError(
        'E_OPTION',
        `calibration batch ${batch} has no tensor for model input '${v.name}' (it has ${Object.keys(feeds).join(', ') || 'nothing'}); feed every graph input by name`,
      );
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
export async function calibrate(
  model: Model,
  tensors: readonly Value[],
  opts: Int8StaticOptions,
  report: ReportBuilder,
): Promise<Map<string, [number, number]>> {
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
    const r =
      method === 'minmax'
        ? minmax.get(n)!.range()
        : method === 'percentile'
          ? percentileRange(hist.get(n)!, opts.percentile ?? 99.999)
          : entropyRange(hist.get(n)!, 128);
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
  const { nodes, sites, inputs } = plan(model, opts, report);
  if (nodes.length === 0) return;
  const ranges = await calibrate(model, [...new Set([...sites.values()].flatMap((s) => [s.range, ...s.also]))], opts, report);
  const rangeOf = (site: Site): [number, number] => {
    let [lo, hi] = ranges.get(site.range.name) ?? [0, 0];
    for (const a of site.also) {
      const r = ranges.get(a.name);
      if (r !== undefined) [lo, hi] = [Math.min(lo, r[0]), Math.max(hi, r[1])];
    }
    return [lo, hi];
  };
  const act = opts.activationType ?? 'int8';
  const reduceRange = opts.reduceRange ?? false;
  const perChannel = opts.perChannel ?? true;
  const [qmin] = qRange(act, { reduceRange });
  const g = model.graph;
  const qdq = new Map<Value, { value: Value; scale: number; s: Value; z: Value }>();
  const quantized = (site: Site): { value: Value; scale: number; s: Value; z: Value } => {
    const v = site.at;
    const known = qdq.get(v);
    if (known !== undefined) return known;
    const [lo, hi] = rangeOf(site);
    // A Relu's output is never negative, whatever window the calibrator chose (entropy's is symmetric).
    const p = computeQParams(site.relu !== undefined ? Math.max(lo, 0) : lo, hi, act, { reduceRange });
    const relu = site.relu !== undefined && p.zeroPoint === qmin ? site.relu : undefined;
    if (site.relu !== undefined && relu === undefined) {
      const kept = { at: site.range, range: site.range, also: site.also };
      const r = quantized(kept);
      qdq.set(v, r);
      return r;
    }
    const s = emit.init(`${v.name}_scale`, new Tensor('float32', [], new Float32Array([p.scale])));
    const z = emit.init(
      `${v.name}_zero_point`,
      new Tensor(act, [], (act === 'int8' ? new Int8Array([p.zeroPoint]) : new Uint8Array([p.zeroPoint])) as never),
    );
    const producer = v.producer();
    const uses = [...v.uses()];
    const at = producer === undefined ? g.nodes[0]! : nextNode(g, producer);
    const [q] = emit.node(at, 'QuantizeLinear', [v, s, z], { name: `${v.name}_QuantizeLinear`, dtypes: [act] });
    const [dq] = emit.node(at, 'DequantizeLinear', [q!, s, z], { name: `${v.name}_DequantizeLinear`, dtypes: ['float32'] });
    dq!.shape = v.shape;
    for (const u of uses) u.node.replaceInput(u.index, dq!);
    if (relu !== undefined) {
      // Q with zero point = qmin clamps negatives to 0 exactly as Relu does: the Relu goes (onnxruntime's quantizer
      // removes it the same way).
      const r = relu.outputs[0]!;
      r.replaceAllUsesWith(dq!);
      g.remove(relu);
      report.done(relu, `folded into the int8 range of '${v.name}' (zero point ${p.zeroPoint})`, 0, 0);
    }
    const res = { value: dq!, scale: p.scale, s, z };
    qdq.set(v, res);
    if (relu !== undefined) qdq.set(relu.outputs[0]!, res);
    return res;
  };
  for (const site of sites.values()) quantized(site);
  const wdone = new Map<Value, { value: Value; scales: number[]; scale: Value }>();
  for (const node of nodes) {
    const { site, direct } = inputs.get(node)!;
    const x = quantized(site);
    if (!direct) {
      // A value-moving op onnxruntime does not propagate through sits between: the layer gets its own Q/DQ pair with
      // the same scale and zero point.
      const xv = slotOf(node, 'input')!;
      const [q] = emit.node(node, 'QuantizeLinear', [xv, x.s, x.z], { name: `${xv.name}_QuantizeLinear`, dtypes: [act] });
      const [dq] = emit.node(node, 'DequantizeLinear', [q!, x.s, x.z], { name: `${xv.name}_DequantizeLinear`, dtypes: ['float32'] });
      dq!.shape = xv.shape;
      node.replaceInput(0, dq!);
    }
    const w = weightOf(node)!;
    let wr = wdone.get(w.value);
    const t = w.tensor!;
    if (wr === undefined) {
      const r = dequantizedWeight(emit, node, w.value.name, t, perChannel ? w.outAxis : undefined, 'int8', {
        symmetric: true,
        reduceRange,
      });
      wr = { value: r.value, scales: r.params.map((p) => p.scale), scale: r.scale };
      wdone.set(w.value, wr);
      report.done(
        node,
        `QDQ int8 activations, int8 weight ${perChannel ? `per-channel (axis ${w.outAxis})` : 'per-tensor'} symmetric`,
        t.byteLength,
        r.bytesAfter,
        r.maxAbsError,
      );
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
      // The bias scale is x_scale·w_scale: per channel it is computed by a Mul of the two scale tensors (folded by
      // onnxruntime at load, and exactly the float32 product written out) instead of stored, so it costs one node
      // instead of 4 bytes a channel.
      // (x_scale = 1, a raw 0-255 input, shares the weight's scale tensor outright.)
      const si = !per
        ? emit.init(`${b.value.name}_scale`, new Tensor('float32', [], new Float32Array([scales[0]!])))
        : x.scale === 1
          ? wr.scale
          : emit.node(node, 'Mul', [x.s, wr.scale], { name: `${b.value.name}_scale`, dtypes: ['float32'] })[0]!;
      const [bd] = emit.node(node, 'DequantizeLinear', [qi, si], {
        name: `${b.value.name}_DequantizeLinear`,
        ...(per && { attrs: { axis: attr.int(0) } }),
        dtypes: ['float32'],
      });
      node.replaceInput(b.index, bd!);
    }
  }
  g.removeUnusedInitializers(); // keeps what If/Loop bodies read by name
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
