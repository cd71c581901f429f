import type { Attribute } from './attribute.js';
import { McError } from './errors.js';
import type { Graph } from './graph.js';
import { Value } from './value.js';

/** What a node is made from. Outputs may be Values, names, or a count (named `${name}_out${i}` when added). */
export interface NodeInit {
  opType: string;
  domain?: string;
  name?: string;
  overload?: string;
  inputs?: readonly (Value | undefined)[];
  outputs?: readonly (Value | string)[] | number;
  attributes?: Iterable<[string, Attribute]> | Record<string, Attribute>;
  docString?: string;
}

const dec = new TextDecoder();

/**
 * One operator application. Inputs are edited only through `replaceInput`, so use-lists stay correct.
 *
 * @example
 * ```ts
 * const relu = new Node({ opType: 'Relu', inputs: [x], outputs: ['y'] });
 * graph.append(relu);
 * ```
 */
export class Node {
  opType: string;
  domain: string;
  name: string;
  overload: string;
  docString: string | undefined;
  readonly attributes: Map<string, Attribute>;
  /** Serialized with the node (NodeProto.metadata_props); e.g. `keras.layer` provenance. */
  readonly metadataProps = new Map<string, string>();
  /** Analysis caches; never written to disk. */
  readonly meta = new Map<string, unknown>();
  /** Format-level fields a reader keeps verbatim (e.g. device configurations). */
  extra: Readonly<Record<string, unknown>> | undefined;
  /** @internal */
  _graph: Graph | undefined;
  readonly #inputs: (Value | undefined)[] = [];
  readonly #outputs: Value[] = [];

  constructor(init: NodeInit) {
    this.opType = init.opType;
    this.domain = init.domain ?? '';
    this.name = init.name ?? '';
    this.overload = init.overload ?? '';
    this.docString = init.docString;
    const a = init.attributes;
    this.attributes = new Map(a === undefined ? [] : Symbol.iterator in a ? (a as Iterable<[string, Attribute]>) : Object.entries(a));
    for (const [i, v] of (init.inputs ?? []).entries()) {
      this.#inputs.push(v);
      v?._addUse(this, i);
    }
    const outs = init.outputs ?? 1;
    const list = typeof outs === 'number' ? Array.from({ length: outs }, () => '') : outs;
    for (const [i, o] of list.entries()) {
      const v = typeof o === 'string' ? new Value(o) : o;
      if (v.producer() !== undefined) throw new McError('E_INVARIANT', `value '${v.name}' already has a producer`);
      v._setProducer(this, i);
      this.#outputs.push(v);
    }
  }

  /** Input values; `undefined` marks an omitted optional input. */
  get inputs(): readonly (Value | undefined)[] {
    return this.#inputs;
  }

  get outputs(): readonly Value[] {
    return this.#outputs;
  }

  /** The graph this node belongs to. */
  get graph(): Graph | undefined {
    return this._graph;
  }

  /** Sets input slot `i` (appending `undefined` slots as needed). */
  replaceInput(i: number, v: Value | undefined): void {
    while (this.#inputs.length <= i) this.#inputs.push(undefined);
    const old = this.#inputs[i];
    if (old === v) return;
    old?._removeUse(this, i);
    this.#inputs[i] = v;
    v?._addUse(this, i);
  }

  /** Drops trailing omitted inputs. */
  trimInputs(): void {
    while (this.#inputs.length > 0 && this.#inputs[this.#inputs.length - 1] === undefined) this.#inputs.pop();
  }

  /** Removes every input use (used when the node leaves the graph). @internal */
  _detachInputs(): void {
    for (const [i, v] of this.#inputs.entries()) v?._removeUse(this, i);
  }

  /** Re-adds every input use. @internal */
  _attachInputs(): void {
    for (const [i, v] of this.#inputs.entries()) v?._addUse(this, i);
  }

  /** Appends a new output value. */
  addOutput(v: Value | string): Value {
    const val = typeof v === 'string' ? new Value(v) : v;
    val._setProducer(this, this.#outputs.length);
    this.#outputs.push(val);
    if (this._graph !== undefined) val._graph = this._graph;
    return val;
  }

  attr(name: string): Attribute | undefined {
    return this.attributes.get(name);
  }

  setAttr(name: string, a: Attribute): void {
    this.attributes.set(name, a);
  }

  /** An INT attribute as a number, or `dflt`. */
  attrInt(name: string, dflt: number): number;
  attrInt(name: string): number | undefined;
  attrInt(name: string, dflt?: number): number | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return dflt;
    if (a.type !== 'INT') throw this.#typeError(name, 'INT', a.type);
    return Number(a.value);
  }

  /** An INTS attribute as numbers, or `dflt`. */
  attrInts(name: string, dflt: number[]): number[];
  attrInts(name: string): number[] | undefined;
  attrInts(name: string, dflt?: number[]): number[] | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return dflt;
    if (a.type !== 'INTS') throw this.#typeError(name, 'INTS', a.type);
    return a.value.map((v) => Number(v));
  }

  attrFloat(name: string, dflt: number): number;
  attrFloat(name: string): number | undefined;
  attrFloat(name: string, dflt?: number): number | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return dflt;
    if (a.type !== 'FLOAT') throw this.#typeError(name, 'FLOAT', a.type);
    return a.value;
  }

  attrString(name: string, dflt: string): string;
  attrString(name: string): string | undefined;
  attrString(name: string, dflt?: string): string | undefined {
    const a = this.attributes.get(name);
    if (a === undefined) return dflt;
    if (a.type !== 'STRING') throw this.#typeError(name, 'STRING', a.type);
    return dec.decode(a.value);
  }

  /** A short label for messages: `Conv 'conv3'`. */
  label(): string {
    return `${this.domain === '' ? '' : `${this.domain}::`}${this.opType} '${this.name || this.outputs[0]?.name || '?'}'`;
  }

  #typeError(name: string, want: string, got: string): McError {
    return new McError(
      'E_FORMAT',
      `${this.label()} attribute '${name}' should be ${want}, found ${got}; the model does not follow the ONNX spec for ${this.opType}`,
      {
        context: { node: this.name, opType: this.opType },
      },
    );
  }
}
