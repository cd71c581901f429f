import type { Attribute } from './attribute.js';
import { Graph } from './graph.js';
import { Node } from './node.js';
import { Value } from './value.js';

/** An ONNX FunctionProto: a body graph whose inputs/outputs are the function's formal parameters. */
export interface IrFunction {
  domain: string;
  name: string;
  overload: string;
  graph: Graph;
  /** Attribute names without defaults, in order. */
  attributeNames: string[];
  /** Attributes with default values (FunctionProto.attribute_proto). */
  attributeDefaults: Map<string, Attribute>;
  opsetImports: Map<string, number>;
  docString: string | undefined;
  metadataProps: Map<string, string>;
}

/** Header fields of a model, all optional when constructing. */
export interface ModelInit {
  graph?: Graph;
  irVersion?: number;
  opsetImports?: Map<string, number> | Record<string, number>;
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: bigint;
  docString?: string;
}

/**
 * A model: a main graph plus the header that travels with it. `clone()` copies graphs, nodes and values and shares
 * the immutable tensors, so it is cheap.
 *
 * @example
 * ```ts
 * const copy = model.clone();
 * copy.opset(''); // 17
 * ```
 */
export class Model {
  graph: Graph;
  irVersion: number;
  readonly opsetImports: Map<string, number>;
  producerName: string;
  producerVersion: string;
  domain: string;
  modelVersion: bigint | undefined;
  docString: string | undefined;
  readonly metadataProps = new Map<string, string>();
  readonly functions: IrFunction[] = [];
  /** Encoded TrainingInfoProto messages, kept verbatim (mc does not interpret training info). */
  trainingInfo: Uint8Array[] = [];
  /** Other header fields a reader keeps verbatim (e.g. configuration). */
  extra: Readonly<Record<string, unknown>> | undefined;

  constructor(init: ModelInit = {}) {
    this.graph = init.graph ?? new Graph('main');
    this.irVersion = init.irVersion ?? 10;
    const o = init.opsetImports ?? { '': 21 };
    this.opsetImports = o instanceof Map ? new Map(o) : new Map(Object.entries(o));
    this.producerName = init.producerName ?? 'mc';
    this.producerVersion = init.producerVersion ?? '';
    this.domain = init.domain ?? '';
    this.modelVersion = init.modelVersion;
    this.docString = init.docString;
  }

  /** The imported opset version of `domain` ('' = ai.onnx), or undefined. */
  opset(domain = ''): number | undefined {
    return this.opsetImports.get(domain) ?? (domain === '' ? this.opsetImports.get('ai.onnx') : undefined);
  }

  /** A structural copy sharing tensors. */
  clone(): Model {
    const m = new Model({
      irVersion: this.irVersion,
      opsetImports: this.opsetImports,
      producerName: this.producerName,
      producerVersion: this.producerVersion,
      domain: this.domain,
      ...(this.modelVersion !== undefined && { modelVersion: this.modelVersion }),
      ...(this.docString !== undefined && { docString: this.docString }),
    });
    const map = new Map<Value, Value>();
    m.graph = cloneGraph(this.graph, map);
    for (const [k, v] of this.metadataProps) m.metadataProps.set(k, v);
    for (const f of this.functions) {
      m.functions.push({
        ...f,
        graph: cloneGraph(f.graph, new Map()),
        attributeNames: [...f.attributeNames],
        attributeDefaults: new Map([...f.attributeDefaults].map(([k, a]) => [k, cloneAttr(a, new Map())])),
        opsetImports: new Map(f.opsetImports),
        metadataProps: new Map(f.metadataProps),
      });
    }
    m.trainingInfo = [...this.trainingInfo];
    m.extra = this.extra;
    return m;
  }
}

function cloneValue(v: Value, map: Map<Value, Value>): Value {
  const existing = map.get(v);
  if (existing !== undefined) return existing;
  const c = new Value(v.name);
  c.type = v.type;
  c.constValue = v.constValue;
  c.sparseValue = v.sparseValue;
  c.docString = v.docString;
  for (const [k, s] of v.metadataProps) c.metadataProps.set(k, s);
  map.set(v, c);
  return c;
}

/** Deep-copies a graph; `map` carries outer-scope values so subgraphs keep pointing at the copied outer values. @internal */
export function cloneGraph(g: Graph, map: Map<Value, Value>): Graph {
  const c = new Graph(g.name);
  c.docString = g.docString;
  for (const [k, s] of g.metadataProps) c.metadataProps.set(k, s);
  for (const v of g.inputs) c.addInput(cloneValue(v, map));
  for (const v of g.initializers.values()) c.setInitializer(cloneValue(v, map));
  for (const v of g.sparseInitializers.values()) {
    const cv = cloneValue(v, map);
    c.setSparseInitializer(cv, v.sparseValue!);
  }
  for (const n of g.nodes) {
    const outs = n.outputs.map((o) => cloneValue(o, map));
    const node = new Node({
      opType: n.opType,
      domain: n.domain,
      name: n.name,
      overload: n.overload,
      inputs: n.inputs.map((v) => (v === undefined ? undefined : cloneValue(v, map))),
      outputs: outs,
      attributes: [...n.attributes].map(([k, a]) => [k, cloneAttr(a, map)] as [string, Attribute]),
      ...(n.docString !== undefined && { docString: n.docString }),
    });
    for (const [k, s] of n.metadataProps) node.metadataProps.set(k, s);
    node.extra = n.extra;
    c.append(node);
  }
  for (const v of g.outputs) c.addOutput(cloneValue(v, map));
  for (const v of g.valueInfo) c.valueInfo.push(cloneValue(v, map));
  for (const q of g.quantizationAnnotation)
    c.quantizationAnnotation.push({ tensorName: q.tensorName, params: q.params.map(([a, b]) => [a, b]) });
  return c;
}

function cloneAttr(a: Attribute, map: Map<Value, Value>): Attribute {
  if (a.type === 'GRAPH') return { ...a, value: cloneGraph(a.value, map) };
  if (a.type === 'GRAPHS') return { ...a, value: a.value.map((g) => cloneGraph(g, map)) };
  if (a.type === 'INTS') return { ...a, value: [...a.value] };
  if (a.type === 'FLOATS') return { ...a, value: [...a.value] };
  return a;
}
