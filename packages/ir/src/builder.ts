import { type Attribute, attr } from './attribute.js';
import type { DType } from './dtype.js';
import { Graph } from './graph.js';
import { Model } from './model.js';
import { Node } from './node.js';
import type { Tensor } from './tensor.js';
import type { Shape } from './types.js';
import { Value } from './value.js';

type AttrInput = number | bigint | string | readonly number[] | Tensor | Attribute;

function toAttr(v: AttrInput): Attribute {
  if (typeof v === 'number') return Number.isInteger(v) ? attr.int(v) : attr.float(v);
  if (typeof v === 'bigint') return attr.int(v);
  if (typeof v === 'string') return attr.string(v);
  if (Array.isArray(v)) return (v as number[]).every((x) => Number.isInteger(x)) ? attr.ints(v as number[]) : attr.floats(v as number[]);
  if (typeof v === 'object' && v !== null && 'type' in v && typeof (v as Attribute).type === 'string' && 'value' in v && !('dims' in v))
    return v as Attribute;
  return attr.tensor(v as Tensor);
}

/**
 * Builds models in code: inputs, initializers, nodes and outputs, with unique names generated.
 * Integer numbers become INT attributes, others FLOAT; use `attr.float(1)` for a whole-number float.
 *
 * @example
 * ```ts
 * const b = new ModelBuilder({ opset: 17 });
 * const x = b.input('x', 'float32', [1, 4]);
 * b.output(b.node('Relu', [x]), 'y');
 * const model = b.build();
 * ```
 */
export class ModelBuilder {
  readonly graph: Graph;
  readonly model: Model;
  #count = 0;

  constructor(opts: { opset?: number; irVersion?: number; opsets?: Record<string, number> } = {}) {
    this.graph = new Graph('main');
    this.model = new Model({ graph: this.graph, irVersion: opts.irVersion ?? 9, opsetImports: { '': opts.opset ?? 17, ...opts.opsets } });
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    return this.graph.addInput(new Value(name, { dtype, shape }));
  }

  initializer(name: string, tensor: Tensor): Value {
    return this.graph.addInitializer(name, tensor);
  }

  /** Adds a node and returns its first output. */
  node(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attributes: Record<string, AttrInput> = {},
    opts: { domain?: string; name?: string; outputs?: number } = {},
  ): Value {
    return this.nodeN(opType, inputs, attributes, opts)[0]!;
  }

  /** Adds a node and returns all its outputs. */
  nodeN(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attributes: Record<string, AttrInput> = {},
    opts: { domain?: string; name?: string; outputs?: number } = {},
  ): Value[] {
    const id = this.#count++;
    const name = opts.name ?? this.graph.uniqueName(`${opType.toLowerCase()}_${id}`);
    const outputs = Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.graph.uniqueName(`${name}_out${i}`));
    const n = new Node({
      opType,
      ...(opts.domain !== undefined && { domain: opts.domain }),
      name,
      inputs,
      outputs,
      attributes: Object.entries(attributes).map(([k, v]) => [k, toAttr(v)] as [string, Attribute]),
    });
    this.graph.append(n);
    return [...n.outputs];
  }

  /** Marks a value as a graph output, optionally renaming it. */
  output(v: Value, name?: string, type?: { dtype: DType; shape?: Shape }): Value {
    if (name !== undefined) v.name = name;
    if (type !== undefined) {
      v.dtype = type.dtype;
      if (type.shape !== undefined) v.shape = type.shape;
    }
    return this.graph.addOutput(v);
  }

  build(): Model {
    return this.model;
  }
}
