import { type Model, type Node, type Tensor, type Value, type WeightRef, opInfo, weightOf } from '@mc/ir';
import { isExcluded } from '../graph-utils.js';
import type { ReportBuilder } from '../report.js';

/** What a weight rewrite produced: the float value the node reads instead, and report facts. */
export interface WeightRewrite {
  readonly value: Value;
  readonly action: string;
  readonly bytesAfter: number;
  readonly maxAbsError?: number;
}

/**
 * The graph's nodes that read a layer weight (`weightOf` from the op facts), each with that weight, over a snapshot of
 * the node list (rewriting as you go is safe). A node without a weight is reported passed through with `unknown` as the
 * reason when mc does not know its op (or it is in another domain); known weightless ops pass silently.
 * @internal
 */
export function* weightedNodes(model: Model, report: ReportBuilder, unknown: string): Generator<{ node: Node; w: WeightRef }> {
  for (const node of [...model.graph.nodes]) {
    const w = weightOf(node);
    if (w === undefined) {
      if (opInfo(node) === undefined || node.domain !== '') report.pass(node, unknown);
      continue;
    }
    yield { node, w };
  }
}

/**
 * Visits every layer weight (Conv, ConvTranspose, Gemm, constant-B MatMul: `weightOf` from the op facts) that is a
 * float32 initializer, calls `rewrite` once per weight value (shared weights are rewritten once) and points the node
 * at the result. Nodes without a weight pass through; `accept` (default: every weight) may refuse a node with a reason.
 * @internal
 */
export function rewriteWeights(
  model: Model,
  on: {
    readonly exclude: readonly string[] | undefined;
    readonly report: ReportBuilder;
    readonly accept?: (node: Node, w: WeightRef & { tensor: Tensor }) => string | undefined;
  },
  rewrite: (node: Node, w: WeightRef & { tensor: Tensor }) => WeightRewrite,
): void {
  const { exclude, report, accept } = on;
  const g = model.graph;
  const done = new Map<Value, WeightRewrite>();
  for (const { node, w } of weightedNodes(model, report, 'no weight to quantize (op not known to mc)')) {
    if (isExcluded(node, exclude)) {
      report.pass(node, 'excluded by option');
      continue;
    }
    const t = w.tensor;
    if (t === undefined || !w.value.isInitializer()) {
      report.pass(node, `weight '${w.value.name}' is not an initializer (computed at run time)`);
      continue;
    }
    if (t.dtype !== 'float32') {
      report.pass(node, `weight '${w.value.name}' is ${t.dtype}, not float32`);
      continue;
    }
    if (t.size === 0) {
      // Nothing to store smaller, and onnxruntime rejects QuantizeLinear/DequantizeLinear on empty tensors.
      report.pass(node, `weight '${w.value.name}' is zero-size [${t.dims.join(', ')}]; passed through untouched`);
      continue;
    }
    const ww = w as WeightRef & { tensor: Tensor };
    const why = accept?.(node, ww);
    if (why !== undefined) {
      report.pass(node, why);
      continue;
    }
    let r = done.get(w.value);
    const first = r === undefined;
    if (r === undefined) {
      r = rewrite(node, ww);
      done.set(w.value, r);
    }
    node.replaceInput(w.index, r.value);
    report.done(node, first ? r.action : `${r.action} (shared)`, first ? t.byteLength : 0, first ? r.bytesAfter : 0, r.maxAbsError);
  }
  for (const v of done.keys()) {
    if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
  }
}
