import { type Attribute, type Graph, Node, type Tensor, Value } from '@mc/ir';

/**
 * Adds initializers and nodes to a graph with names unique over the whole graph. The name set is built once, so many
 * insertions stay linear in the graph size.
 * @internal
 */
export class Emitter {
  readonly #taken = new Set<string>();

  constructor(readonly graph: Graph) {
    for (const v of graph.inputs) this.#taken.add(v.name);
    for (const v of graph.outputs) this.#taken.add(v.name);
    for (const k of graph.initializers.keys()) this.#taken.add(k);
    for (const k of graph.sparseInitializers.keys()) this.#taken.add(k);
    for (const n of graph.nodes) {
      if (n.name) this.#taken.add(n.name);
      for (const o of n.outputs) this.#taken.add(o.name);
      for (const i of n.inputs) if (i !== undefined) this.#taken.add(i.name);
    }
  }

  /** A fresh name starting with `base`. */
  name(base: string): string {
    let n = base;
    for (let i = 1; this.#taken.has(n); i++) n = `${base}_${i}`;
    this.#taken.add(n);
    return n;
  }

  /** Adds an initializer. */
  init(base: string, tensor: Tensor): Value {
    return this.graph.addInitializer(this.name(base), tensor, { exactName: true });
  }

  /**
   * Creates a node, inserts it before `before` (or appends), and returns its outputs, typed `dtypes[i]` when given.
   */
  node(
    before: Node | undefined,
    opType: string,
    inputs: readonly (Value | undefined)[],
    opts: {
      attrs?: Record<string, Attribute>;
      domain?: string;
      name?: string;
      outputs?: number;
      dtypes?: readonly (string | undefined)[];
    } = {},
  ): Value[] {
    const name = this.name(opts.name ?? opType);
    const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => {
      const v = new Value(this.name(`${name}_out${i === 0 ? '' : i}`));
      const dt = opts.dtypes?.[i];
      if (dt !== undefined) v.dtype = dt as Value['dtype'];
      return v;
    });
    const node = new Node({ opType, domain: opts.domain ?? '', name, inputs, outputs, attributes: opts.attrs ?? {} });
    if (before === undefined) this.graph.append(node);
    else this.graph.insertBefore(before, node);
    return outputs;
  }
}
