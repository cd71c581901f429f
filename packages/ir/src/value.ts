import type { DType } from './dtype.js';
import { McError } from './errors.js';
import type { Graph } from './graph.js';
import type { Node } from './node.js';
import type { Tensor } from './tensor.js';
import type { Shape, SparseTensor, TypeInfo } from './types.js';

/** One use of a value: input slot `index` of `node`. */
export interface Use {
  readonly node: Node;
  readonly index: number;
}

/**
 * A named edge of the graph: a graph input, an initializer, or a node output. Use-lists are kept by the IR.
 *
 * @example
 * ```ts
 * for (const { node, index } of value.uses()) console.log(node.opType, index);
 * ```
 */
export class Value {
  name: string;
  /** ONNX type; `dtype` and `shape` are shortcuts into a tensor type. */
  type: TypeInfo | undefined;
  /** The constant behind an initializer. */
  constValue: Tensor | undefined;
  /** The sparse constant behind a sparse initializer. */
  sparseValue: SparseTensor | undefined;
  docString: string | undefined;
  /** Serialized with the value (ValueInfoProto.metadata_props). */
  readonly metadataProps = new Map<string, string>();
  /** Analysis caches; never written to disk. */
  readonly meta = new Map<string, unknown>();
  /** @internal the graph that owns this value as input, initializer or node output. */
  _graph: Graph | undefined;
  #producer: Node | undefined;
  #index: number | undefined;
  readonly #uses: { node: Node; index: number }[] = [];

  constructor(name: string, init: { dtype?: DType; shape?: Shape; type?: TypeInfo; constValue?: Tensor } = {}) {
    this.name = name;
    this.type = init.type;
    this.constValue = init.constValue;
    this.sparseValue = undefined;
    this.docString = undefined;
    if (init.dtype !== undefined || init.shape !== undefined) {
      this.type = {
        kind: 'tensor',
        ...(init.dtype !== undefined && { dtype: init.dtype }),
        ...(init.shape !== undefined && { shape: init.shape }),
      };
    } else if (init.constValue !== undefined && init.type === undefined) {
      this.type = { kind: 'tensor', dtype: init.constValue.dtype, shape: init.constValue.dims };
    }
  }

  /** Element type when this is a tensor value. */
  get dtype(): DType | undefined {
    const t = this.type;
    return t !== undefined && (t.kind === 'tensor' || t.kind === 'sparse_tensor') ? t.dtype : undefined;
  }

  set dtype(d: DType | undefined) {
    const t = this.type;
    const base = t !== undefined && t.kind === 'tensor' ? t : { kind: 'tensor' as const };
    const { dtype: _old, ...rest } = base;
    this.type = d === undefined ? rest : { ...rest, dtype: d };
  }

  /** Shape when this is a tensor value and its rank is known. */
  get shape(): Shape | undefined {
    const t = this.type;
    return t !== undefined && (t.kind === 'tensor' || t.kind === 'sparse_tensor') ? t.shape : undefined;
  }

  set shape(s: Shape | undefined) {
    const t = this.type;
    const base = t !== undefined && t.kind === 'tensor' ? t : { kind: 'tensor' as const };
    const { shape: _old, dimDenotations: _dd, ...rest } = base;
    this.type = s === undefined ? rest : { ...rest, shape: s };
  }

  /** The node that produces this value, if any. */
  producer(): Node | undefined {
    return this.#producer;
  }

  /** The output slot of this value in its producer. */
  index(): number | undefined {
    return this.#index;
  }

  /** Every (node, input slot) that reads this value. */
  uses(): readonly Use[] {
    return this.#uses.slice();
  }

  /** True when this value is an initializer (dense or sparse) of its graph. */
  isInitializer(): boolean {
    const g = this._graph;
    return g !== undefined && (g.initializers.get(this.name) === this || g.sparseInitializers.get(this.name) === this);
  }

  /** True when this value is listed among its graph's inputs. */
  isGraphInput(): boolean {
    return this._graph?.inputs.includes(this) ?? false;
  }

  /** True when this value is listed among its graph's outputs. */
  isGraphOutput(): boolean {
    return this._graph?.outputs.includes(this) ?? false;
  }

  /**
   * Points every user of this value at `other`. With `graphOutputs: true` a graph output slot holding this value is
   * given `other` too, and `other` takes over this value's name (the model's interface keeps its names).
   */
  replaceAllUsesWith(other: Value, opts: { graphOutputs?: boolean } = {}): void {
    if (other === this) return;
    for (const u of this.#uses.slice()) u.node.replaceInput(u.index, other);
    if (opts.graphOutputs === true && this._graph !== undefined) {
      const outs = this._graph.outputs;
      let replaced = false;
      for (let i = 0; i < outs.length; i++) {
        if (outs[i] === this) {
          outs[i] = other;
          replaced = true;
        }
      }
      if (replaced) {
        const name = this.name;
        this.name = this._graph.uniqueName(`${name}_replaced`);
        other.name = name;
      }
    }
  }

  /** @internal */
  _setProducer(node: Node | undefined, index: number | undefined): void {
    this.#producer = node;
    this.#index = index;
  }

  /** @internal */
  _addUse(node: Node, index: number): void {
    this.#uses.push({ node, index });
  }

  /** @internal */
  _removeUse(node: Node, index: number): void {
    const i = this.#uses.findIndex((u) => u.node === node && u.index === index);
    if (i < 0) throw new McError('E_INVARIANT', `use-list of '${this.name}' lacks (${node.name}, ${index})`);
    this.#uses.splice(i, 1);
  }
}
