import { attrOf, type Graph, type Node, reshapeDims, slotOf, Tensor, Value } from '@mc/ir';
import type { RuleContext } from './types.js';

/** A constant weight: the value the node reads and its tensor (folded through a Reshape of an initializer). @internal */
export interface ConstWeight {
  value: Value;
  tensor: Tensor;
}

/**
 * The constant behind input `name` of `node`, or the reason there is none. Exporters such as CNTK feed weights through
 * `Reshape(initializer, constant shape)`; that is folded here (https://onnx.ai/onnx/operators/onnx__Reshape.html:
 * 0 copies the input dim, -1 is inferred).
 * @internal
 */
export function constWeight(node: Node, name: string, ctx: RuleContext): ConstWeight | { skip: string } {
  const value = slotOf(node, name);
  if (value === undefined) return { skip: `no ${name} input` };
  if (value.uses().length > 1)
    return { skip: `weight is shared by ${value.uses().length} nodes (factorising it for one would store it twice)` };
  if (value.isGraphInput() && !ctx.legacyInputs) return { skip: 'weight is also a graph input (it can be overridden at run time)' };
  if (value.constValue !== undefined) return { value, tensor: value.constValue };
  const p = value.producer();
  if (p !== undefined && p.opType === 'Reshape' && p.domain === '') {
    const data = slotOf(p, 'data');
    const t = data?.constValue;
    const s = slotOf(p, 'shape')?.constValue;
    if (
      t !== undefined &&
      s !== undefined &&
      s.dtype === 'int64' &&
      (!data!.isGraphInput() || ctx.legacyInputs) &&
      attrOf(p, 'allowzero') === 0
    ) {
      const dims = reshapeDims(t.dims, Array.from(s.data as BigInt64Array, Number));
      if (dims !== undefined) return { value, tensor: new Tensor(t.dtype, dims, t.data) };
    }
  }
  return {
    skip: node.opType === 'MatMul' ? 'MatMul B is not a constant (a product of two activations)' : 'weight is not a constant initializer',
  };
}

/** Adds an initializer for a factor, named after the original weight (also a graph input under IR < 4). @internal */
export function addFactor(graph: Graph, base: string, suffix: string, t: Tensor, ctx: RuleContext): Value {
  const v = graph.addInitializer(`${base}_${suffix}`, t);
  if (ctx.legacyInputs) graph.addInput(v);
  return v;
}

/** A fresh intermediate value for the chain between factor nodes. @internal */
export function intermediate(graph: Graph, base: string, dtype: 'float32' | 'float64'): Value {
  return new Value(graph.uniqueName(base), { dtype });
}

/**
 * Puts `chain` in place of `node`: inserts it before `node`, moves every use (graph outputs keep their names) to the
 * chain's last output, removes `node`, then the weight (and a Reshape that produced it) once nothing reads them.
 * @internal
 */
export function replaceWithChain(graph: Graph, node: Node, chain: Node[], weight: Value): void {
  for (const n of chain) {
    // Provenance stays, except a Keras layer tag: the chain is no longer that Keras layer, so a Keras writer must not
    // regroup it as one.
    for (const [k, v] of node.metadataProps) if (!k.startsWith('keras.')) n.metadataProps.set(k, v);
    n.metadataProps.set('mc.lowrank.of', node.name);
  }
  graph.insertBefore(node, chain);
  const out = node.outputs[0]!;
  const last = chain[chain.length - 1]!.outputs[0]!;
  last.type = out.type;
  out.replaceAllUsesWith(last, { graphOutputs: true });
  graph.remove(node);
  dropIfUnused(graph, weight);
}

function dropIfUnused(graph: Graph, v: Value): void {
  if (v.uses().length > 0 || v.isGraphOutput()) return;
  if (v.isInitializer()) {
    graph.removeInitializer(v.name);
    return;
  }
  const p = v.producer();
  if (p !== undefined && p.outputs.every((o) => o.uses().length === 0 && !o.isGraphOutput())) {
    const ins = p.inputs.filter((x): x is Value => x !== undefined);
    graph.remove(p);
    for (const x of ins) dropIfUnused(graph, x);
  }
}
