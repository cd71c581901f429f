import { McError } from './errors.js';
import type { Node } from './node.js';
import type { Tensor } from './tensor.js';
import type { SparseTensor } from './types.js';
import { Value } from './value.js';

/** ONNX TensorAnnotation: quantization parameter tensor names for one tensor. */
export interface QuantizationAnnotation {
  tensorName: string;
  params: [key: string, tensorName: string][];
}

/**
 * A computation graph: ordered nodes, inputs, outputs and initializers. Edit it only through its methods and
 * `node.replaceInput` / `value.replaceAllUsesWith`, which keep use-lists right.
 *
 * @example
 * ```ts
 * for (const node of [...graph.nodes]) if (node.opType === 'Identity') { node.outputs[0]!.replaceAllUsesWith(node.inputs[0]!); graph.remove(node); }
 * ```
 */
export class Graph {
  name: string;
  docString: string | undefined;
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, Value>();
  readonly sparseInitializers = new Map<string, Value>();
  /** Values that carried a ValueInfoProto in the file, in file order (readers/writers keep it). */
  readonly valueInfo: Value[] = [];
  readonly quantizationAnnotation: QuantizationAnnotation[] = [];
  readonly metadataProps = new Map<string, string>();
  readonly meta = new Map<string, unknown>();
  readonly #nodes: Node[] = [];
  #version = 0;

  constructor(name = '') {
    this.name = name;
    this.docString = undefined;
  }

  /** The nodes in order. Iterate over a copy (`[...graph.nodes]`) when editing. */
  get nodes(): readonly Node[] {
    return this.#nodes;
  }

  /** Bumped on every structural edit; memoized analyses compare it. */
  get version(): number {
    return this.#version;
  }

  /** Marks the graph changed (for edits made through values, e.g. a new constValue). */
  touch(): void {
    this.#version++;
  }

  addInput(v: Value): Value {
    v._graph = this;
    this.inputs.push(v);
    this.#version++;
    return v;
  }

  addOutput(v: Value): Value {
    if (v._graph === undefined) v._graph = this;
    this.outputs.push(v);
    this.#version++;
    return v;
  }

  /** Adds a dense initializer named `name` (made unique if taken) and returns its value. */
  addInitializer(name: string, tensor: Tensor, opts: { exactName?: boolean } = {}): Value {
    const n = opts.exactName === true ? name : this.uniqueName(name);
    if (this.initializers.has(n)) throw new McError('E_INVARIANT', `initializer '${n}' already exists`);
    const v = new Value(n, { constValue: tensor });
    v._graph = this;
    this.initializers.set(n, v);
    this.#version++;
    return v;
  }

  /** Registers an existing value as an initializer (readers use this to keep names and identities). */
  setInitializer(v: Value): void {
    v._graph = this;
    this.initializers.set(v.name, v);
    this.#version++;
  }

  /** Registers a sparse initializer. */
  setSparseInitializer(v: Value, sparse: SparseTensor): void {
    v._graph = this;
    v.sparseValue = sparse;
    this.sparseInitializers.set(v.name, v);
    this.#version++;
  }

  /** Removes an initializer that nothing uses any more. */
  removeInitializer(name: string): void {
    const v = this.initializers.get(name) ?? this.sparseInitializers.get(name);
    if (v === undefined) return;
    if (v.uses().length > 0 || this.outputs.includes(v)) {
      throw new McError('E_INVARIANT', `initializer '${name}' is still used; replace its uses before removing it`);
    }
    this.initializers.delete(name);
    this.sparseInitializers.delete(name);
    const i = this.inputs.indexOf(v);
    if (i >= 0) this.inputs.splice(i, 1);
    this.#version++;
  }

  /** Drops initializers with no uses (not graph inputs or outputs). Returns how many went. */
  removeUnusedInitializers(): number {
    let n = 0;
    for (const [name, v] of [...this.initializers, ...this.sparseInitializers]) {
      if (v.uses().length === 0 && !this.outputs.includes(v) && !this.inputs.includes(v) && !usedBySubgraph(this, name)) {
        this.initializers.delete(name);
        this.sparseInitializers.delete(name);
        n++;
      }
    }
    if (n > 0) this.#version++;
    return n;
  }

  append(...nodes: Node[]): void {
    for (const n of nodes) this.#adopt(n);
    this.#nodes.push(...nodes);
    this.#version++;
  }

  insertBefore(ref: Node, nodes: Node | readonly Node[]): void {
    this.#insertAt(this.#indexOf(ref), nodes);
  }

  insertAfter(ref: Node, nodes: Node | readonly Node[]): void {
    this.#insertAt(this.#indexOf(ref) + 1, nodes);
  }

  /**
   * Removes a node whose outputs are unused and not graph outputs. Throws `E_INVARIANT` otherwise and leaves the
   * graph untouched.
   */
  remove(node: Node): void {
    const i = this.#indexOf(node);
    for (const o of node.outputs) {
      if (o.uses().length > 0 || this.outputs.includes(o)) {
        throw new McError('E_INVARIANT', `cannot remove ${node.label()}: its output '${o.name}' is still used`, {
          context: { node: node.name, opType: node.opType },
        });
      }
    }
    node._detachInputs();
    node._graph = undefined;
    this.#nodes.splice(i, 1);
    this.#version++;
  }

  /** Removes nodes with no effect on graph outputs. Returns how many went. */
  removeDeadNodes(): number {
    let n = 0;
    for (let changed = true; changed; ) {
      changed = false;
      for (const node of [...this.#nodes].reverse()) {
        const dead = node.outputs.every((o) => o.uses().length === 0 && !this.outputs.includes(o));
        if (dead && node.outputs.length > 0 && !hasSideEffects(node)) {
          this.remove(node);
          n++;
          changed = true;
        }
      }
    }
    return n;
  }

  /** A name not yet taken by any value or node in this graph, built from `base`. */
  uniqueName(base: string): string {
    const taken = this.#names();
    if (!taken.has(base)) return base;
    for (let i = 1; ; i++) {
      const n = `${base}_${i}`;
      if (!taken.has(n)) return n;
    }
  }

  /** Every value in the graph: inputs, initializers, node outputs. */
  *values(): Generator<Value> {
    const seen = new Set<Value>();
    for (const v of [...this.inputs, ...this.initializers.values(), ...this.sparseInitializers.values()]) {
      if (!seen.has(v)) {
        seen.add(v);
        yield v;
      }
    }
    for (const n of this.#nodes) for (const o of n.outputs) yield o;
  }

  /** Reorders nodes topologically (stable where already sorted). Throws on a cycle. */
  topoSort(): void {
    const order: Node[] = [];
    const state = new Map<Node, 1 | 2>();
    const visit = (n: Node): void => {
      const s = state.get(n);
      if (s === 2) return;
      if (s === 1) throw new McError('E_FORMAT', `graph '${this.name}' has a cycle through ${n.label()}`);
      state.set(n, 1);
      for (const v of n.inputs) {
        const p = v?.producer();
        if (p !== undefined && p._graph === this) visit(p);
      }
      state.set(n, 2);
      order.push(n);
    };
    for (const n of this.#nodes) visit(n);
    this.#nodes.splice(0, this.#nodes.length, ...order);
    this.#version++;
  }

  #names(): Set<string> {
    const s = new Set<string>();
    for (const v of this.values()) s.add(v.name);
    for (const n of this.#nodes) if (n.name !== '') s.add(n.name);
    return s;
  }

  #indexOf(n: Node): number {
    const i = this.#nodes.indexOf(n);
    if (i < 0) throw new McError('E_INVARIANT', `${n.label()} is not in graph '${this.name}'`);
    return i;
  }

  #insertAt(i: number, nodes: Node | readonly Node[]): void {
    const list = Array.isArray(nodes) ? (nodes as readonly Node[]) : [nodes as Node];
    for (const n of list) this.#adopt(n);
    this.#nodes.splice(i, 0, ...list);
    this.#version++;
  }

  #adopt(n: Node): void {
    if (n._graph !== undefined && n._graph !== this) throw new McError('E_INVARIANT', `${n.label()} belongs to another graph`);
    if (this.#nodes.includes(n)) throw new McError('E_INVARIANT', `${n.label()} is already in graph '${this.name}'`);
    n._graph = this;
    for (const o of n.outputs) o._graph = this;
  }
}

function hasSideEffects(n: Node): boolean {
  // Nodes of unknown domains may have effects mc cannot see; keep them.
  return n.domain !== '' && n.domain !== 'ai.onnx';
}

function usedBySubgraph(g: Graph, name: string): boolean {
  for (const n of g.nodes) {
    for (const a of n.attributes.values()) {
      const subs = a.type === 'GRAPH' ? [a.value] : a.type === 'GRAPHS' ? a.value : [];
      for (const s of subs) for (const sn of s.nodes) if (sn.inputs.some((v) => v?.name === name)) return true;
    }
  }
  return false;
}
