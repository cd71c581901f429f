import { type Graph, type Node, type Tensor, Value } from '@mc/ir';

/** Weight-value checks shared by every rule: returns a skip reason or undefined. @internal */
export function weightSkipReason(value: Value, tensor: Tensor | undefined): string | undefined {
  if (tensor === undefined) return 'weight is not a constant initializer';
  if (value.isGraphInput()) return 'weight is also a graph input (it can be overridden at run time)';
  if (value.uses().length > 1) return `weight is shared by ${value.uses().length} nodes`;
  return undefined;
}

/** Adds an initializer for a factor, named after the original weight. @internal */
export function addFactor(graph: Graph, base: string, suffix: string, t: Tensor): Value {
  return graph.addInitializer(`${base}_${suffix}`, t);
}

/** A fresh intermediate value for the chain between factor nodes. @internal */
export function intermediate(graph: Graph, base: string, dtype: 'float32' | 'float64'): Value {
  return new Value(graph.uniqueName(base), { dtype });
}

/**
 * Puts `chain` in place of `node`: inserts it before `node`, moves every use (graph outputs keep their names) to the
 * chain's last output, removes `node` and its weight initializers once nothing reads them.
 * @internal
 */
export function replaceWithChain(graph: Graph, node: Node, chain: Node[], weights: Value[]): void {
  for (const n of chain) {
    for (const [k, v] of node.metadataProps) n.metadataProps.set(k, v);
    n.metadataProps.set('mc.lowrank.of', node.name);
  }
  graph.insertBefore(node, chain);
  const out = node.outputs[0]!;
  const last = chain[chain.length - 1]!.outputs[0]!;
  last.type = out.type;
  out.replaceAllUsesWith(last, { graphOutputs: true });
  graph.remove(node);
  for (const w of weights) {
    if (w.isInitializer() && w.uses().length === 0 && !w.isGraphOutput() && !w.isGraphInput()) graph.removeInitializer(w.name);
  }
}
