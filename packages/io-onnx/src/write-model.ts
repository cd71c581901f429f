import {
  type Attribute,
  dtypeInfo,
  type Graph,
  type IrFunction,
  McError,
  type Model,
  type Node,
  type SparseTensor,
  type Value,
} from '@mc/ir';
import { decodeDeviceConfiguration, decodeNodeDeviceConfiguration, decodeTrainingInfo, fromBigInt } from './proto/codec.js';
import type { PAttribute, PFunction, PGraph, PModel, PNode, PSparseTensor, PValueInfo } from './proto/types.js';
import { type Externalize, mapToEntries, type TensorRole, writeTensor } from './tensor-encode.js';
import { writeType } from './type-codec.js';

const ATTR_CODE: Record<Attribute['type'], number> = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
};

/**
 * Names used when writing. A value with an empty name means "omitted" in ONNX; one that is read by a node or is a
 * graph output (e.g. made with `new Node({outputs: 1})` and never named) gets a fresh name in the file instead,
 * so the written model stays valid. The IR itself is not changed. Set for the duration of one (synchronous) write.
 */
let namer: ((v: Value) => string) | undefined;
const nameOf = (v: Value): string => (v.name !== '' || namer === undefined ? v.name : namer(v));

function makeNamer(m: Model): (v: Value) => string {
  const taken = new Set<string>();
  const addAll = (g: Graph): void => {
    for (const v of g.values()) taken.add(v.name);
  };
  addAll(m.graph);
  for (const f of m.functions) addAll(f.graph);
  const given = new Map<Value, string>();
  return (v) => {
    const known = given.get(v);
    if (known !== undefined) return known;
    if (v.uses().length === 0 && !v.isGraphOutput()) return '';
    const p = v.producer();
    const base = `${p?.name || p?.opType || 'value'}_out${v.index() ?? 0}`;
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    given.set(v, name);
    return name;
  };
}

/** Model -> ModelProto-shaped object. @internal */
export function writeModelProto(m: Model, externalize?: Externalize): PModel {
  namer = makeNamer(m);
  try {
    return writeModel(m, externalize);
  } finally {
    namer = undefined;
  }
}

function writeModel(m: Model, externalize?: Externalize): PModel {
  const p: PModel = {};
  if (m.irVersion !== 0) p.ir_version = m.irVersion;
  const extra = (m.extra ?? {}) as {
    emptyFields?: readonly string[];
    opsetWithoutDomain?: readonly string[];
    configuration?: Uint8Array[];
    unknownFields?: Uint8Array[];
  };
  const empty = extra.emptyFields ?? [];
  const noDomain = extra.opsetWithoutDomain ?? [];
  p.opset_import = [...m.opsetImports].map(([domain, version]) =>
    domain === '' && noDomain.includes('') ? { version: fromBigInt(BigInt(version)) } : { domain, version: fromBigInt(BigInt(version)) },
  );
  if (m.producerName !== '' || empty.includes('producer_name')) p.producer_name = m.producerName;
  if (m.producerVersion !== '' || empty.includes('producer_version')) p.producer_version = m.producerVersion;
  if (m.domain !== '' || empty.includes('domain')) p.domain = m.domain;
  if (m.modelVersion !== undefined) p.model_version = fromBigInt(m.modelVersion);
  if (m.docString !== undefined) p.doc_string = m.docString;
  p.graph = writeGraph(m.graph, externalize);
  if (m.metadataProps.size > 0) p.metadata_props = mapToEntries(m.metadataProps);
  if (m.trainingInfo.length > 0) p.training_info = m.trainingInfo.map(decodeTrainingInfo);
  if (m.functions.length > 0) p.functions = m.functions.map((f) => writeFunction(f, externalize));
  const conf = extra.configuration;
  if (conf !== undefined && conf.length > 0) p.configuration = conf.map(decodeDeviceConfiguration);
  if (extra.unknownFields !== undefined) p.$unknowns = extra.unknownFields;
  return p;
}

function writeValueInfo(v: Value): PValueInfo {
  const p: PValueInfo = { name: nameOf(v) };
  if (v.type !== undefined) p.type = writeType(v.type);
  if (v.docString !== undefined) p.doc_string = v.docString;
  if (v.metadataProps.size > 0) p.metadata_props = mapToEntries(v.metadataProps);
  return p;
}

/** Graph -> GraphProto. @internal */
export function writeGraph(g: Graph, externalize?: Externalize): PGraph {
  const p: PGraph = { node: g.nodes.map((n) => writeNode(n, externalize)) };
  if (g.name !== '') p.name = g.name;
  p.initializer = [...g.initializers.values()].map((v) => {
    if (v.constValue === undefined) {
      throw new McError('E_INVARIANT', `initializer '${v.name}' has no tensor; set value.constValue or remove the initializer`);
    }
    return writeTensor(v.constValue, nameOf(v), externalize);
  });
  p.sparse_initializer = [...g.sparseInitializers.values()].map((v) => {
    if (v.sparseValue === undefined) throw new McError('E_INVARIANT', `sparse initializer '${v.name}' has no sparse tensor`);
    return writeSparse(v.sparseValue, nameOf(v), externalize);
  });
  if (g.docString !== undefined) p.doc_string = g.docString;
  p.input = g.inputs.map(writeValueInfo);
  p.output = g.outputs.map(writeValueInfo);
  // A value_info whose value a transform has removed from the graph (its producer left the graph) is dropped.
  p.value_info = g.valueInfo.filter((v) => v.producer() === undefined || v.producer()!.graph !== undefined).map(writeValueInfo);
  p.quantization_annotation = g.quantizationAnnotation.map((q) => ({
    tensor_name: q.tensorName,
    quant_parameter_tensor_names: q.params.map(([key, value]) => ({ key, value })),
  }));
  if (g.metadataProps.size > 0) p.metadata_props = mapToEntries(g.metadataProps);
  return p;
}

function writeSparse(
  s: SparseTensor,
  name: string | undefined,
  externalize?: Externalize,
  role: TensorRole = 'initializer',
): PSparseTensor {
  return {
    values: writeTensor(s.values, name, externalize, role),
    indices: writeTensor(s.indices, undefined, externalize, role),
    dims: s.dims.map((d) => fromBigInt(BigInt(d))),
  };
}

function writeNode(n: Node, externalize?: Externalize): PNode {
  const p: PNode = {
    input: n.inputs.map((v) => (v === undefined ? '' : nameOf(v))),
    output: n.outputs.map(nameOf),
  };
  const nx = (n.extra ?? {}) as { emptyFields?: readonly string[]; unknownFields?: Uint8Array[]; deviceConfigurations?: Uint8Array[] };
  const empty = nx.emptyFields ?? [];
  if (n.name !== '' || empty.includes('name')) p.name = n.name;
  p.op_type = n.opType;
  if (n.domain !== '' || empty.includes('domain')) p.domain = n.domain;
  if (n.overload !== '' || empty.includes('overload')) p.overload = n.overload;
  p.attribute = [...n.attributes].map(([name, a]) => writeAttribute(name, a, externalize));
  if (n.docString !== undefined) p.doc_string = n.docString;
  if (n.metadataProps.size > 0) p.metadata_props = mapToEntries(n.metadataProps);
  const dc = nx.deviceConfigurations;
  if (dc !== undefined && dc.length > 0) p.device_configurations = dc.map(decodeNodeDeviceConfiguration);
  if (nx.unknownFields !== undefined) p.$unknowns = nx.unknownFields;
  return p;
}

/** Attribute -> AttributeProto. @internal */
export function writeAttribute(name: string, a: Attribute, externalize?: Externalize): PAttribute {
  const p: PAttribute = { name };
  if (a.refAttrName !== undefined) p.ref_attr_name = a.refAttrName;
  if (a.docString !== undefined) p.doc_string = a.docString;
  p.type = ATTR_CODE[a.type];
  // A reference to the calling node's attribute carries no data (onnx.proto AttributeProto.ref_attr_name).
  if (a.refAttrName !== undefined) return p;
  switch (a.type) {
    case 'FLOAT':
      p.f = a.value;
      break;
    case 'INT':
      p.i = fromBigInt(a.value);
      break;
    case 'STRING':
      p.s = a.value;
      break;
    case 'TENSOR':
      p.t = writeTensor(a.value, undefined, externalize, 'attribute');
      break;
    case 'GRAPH':
      p.g = writeGraph(a.value, externalize);
      break;
    case 'SPARSE_TENSOR':
      p.sparse_tensor = writeSparse(a.value, undefined, externalize, 'attribute');
      break;
    case 'TYPE_PROTO':
      p.tp = writeType(a.value);
      break;
    case 'FLOATS':
      p.floats = a.value;
      break;
    case 'INTS':
      p.ints = a.value.map(fromBigInt);
      break;
    case 'STRINGS':
      p.strings = a.value;
      break;
    case 'TENSORS':
      p.tensors = a.value.map((t) => writeTensor(t, undefined, externalize, 'attribute'));
      break;
    case 'GRAPHS':
      p.graphs = a.value.map((g) => writeGraph(g, externalize));
      break;
    case 'SPARSE_TENSORS':
      p.sparse_tensors = a.value.map((s) => writeSparse(s, undefined, externalize, 'attribute'));
      break;
    case 'TYPE_PROTOS':
      p.type_protos = a.value.map(writeType);
      break;
    case 'UNDEFINED':
      break;
  }
  return p;
}

function writeFunction(f: IrFunction, externalize?: Externalize): PFunction {
  const body = writeGraph(f.graph, externalize);
  const p: PFunction = { name: f.name, input: f.graph.inputs.map(nameOf), output: f.graph.outputs.map(nameOf) };
  p.attribute = [...f.attributeNames];
  p.attribute_proto = [...f.attributeDefaults].map(([name, a]) => writeAttribute(name, a, externalize));
  p.node = body.node ?? [];
  if (f.docString !== undefined) p.doc_string = f.docString;
  p.opset_import = [...f.opsetImports].map(([domain, version]) => ({ domain, version: fromBigInt(BigInt(version)) }));
  if (f.domain !== '') p.domain = f.domain;
  if (f.overload !== '') p.overload = f.overload;
  p.value_info = body.value_info ?? [];
  if (f.metadataProps.size > 0) p.metadata_props = mapToEntries(f.metadataProps);
  return p;
}

/** Sum of tensor bytes kept inside the protobuf (to refuse files protobuf cannot hold). @internal */
export function dtypeBytes(dtype: Parameters<typeof dtypeInfo>[0], size: number): number {
  return Math.ceil((size * dtypeInfo(dtype).bits) / 8);
}
