import { type Attribute, Graph, type IrFunction, McError, Model, Node, type SparseTensor, Value } from '@mc/ir';
import {
  decodeModelProto,
  encodeDeviceConfiguration,
  MAX_MESSAGE_DEPTH,
  encodeNodeDeviceConfiguration,
  encodeTrainingInfo,
  has,
  toBigInt,
  toNumber,
} from './proto/codec.js';
import type { PAttribute, PFunction, PGraph, PModel, PNode, PSparseTensor, PValueInfo } from './proto/types.js';
import { copyBytes, entriesToMap, formatError, readDims, readTensor } from './tensor-decode.js';
import { readType } from './type-codec.js';
import type { ReadContext } from './external-data.js';

/** Name lookup through enclosing graphs: subgraphs may read values of the graphs around them. */
type Scope = (name: string) => Value | undefined;

const ATTR_TYPES = [
  'UNDEFINED',
  'FLOAT',
  'INT',
  'STRING',
  'TENSOR',
  'GRAPH',
  'FLOATS',
  'INTS',
  'STRINGS',
  'TENSORS',
  'GRAPHS',
  'SPARSE_TENSOR',
  'SPARSE_TENSORS',
  'TYPE_PROTO',
  'TYPE_PROTOS',
] as const;

/** Decodes bytes to a ModelProto, mapping protobuf failures to E_TRUNCATED / E_FORMAT. @internal */
export function decodeBytes(bytes: Uint8Array, ctx: ReadContext): PModel {
  const where = ctx.file === undefined ? 'the input' : ctx.file;
  const ctxOpt = ctx.file === undefined ? {} : { context: { file: ctx.file } };
  if (bytes.length === 0) {
    throw new McError(
      'E_FORMAT',
      `${where} is empty (0 bytes), so it holds no ONNX model; export the model again or pick the right file`,
      ctxOpt,
    );
  }
  let p: PModel;
  try {
    p = decodeModelProto(bytes);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/index out of range/.test(msg)) {
      throw new McError(
        'E_TRUNCATED',
        `${where} ends before the ONNX protobuf message does (${bytes.length} bytes; ${msg}); the file is truncated or is not an ONNX model: copy or download it again`,
        { ...ctxOpt, cause: e },
      );
    }
    if (/max depth exceeded/.test(msg)) {
      throw new McError(
        'E_FORMAT',
        `${where} nests protobuf messages more than ${MAX_MESSAGE_DEPTH} levels deep (subgraphs inside If/Loop/Scan about ${Math.floor(MAX_MESSAGE_DEPTH / 3)} levels deep, or a damaged file); flatten the control flow or re-export the model`,
        { ...ctxOpt, cause: e },
      );
    }
    throw new McError(
      'E_FORMAT',
      `${where} is not an ONNX model: the protobuf message cannot be decoded (${msg}); check that it is an .onnx file and re-export it`,
      { ...ctxOpt, cause: e },
    );
  }
  if (p.graph == null) {
    throw new McError(
      'E_FORMAT',
      `${where} decodes as protobuf but has no ONNX graph (ModelProto.graph is missing); it is not an ONNX model or is cut short: re-export it`,
      ctxOpt,
    );
  }
  return p;
}

/** ModelProto -> Model. @internal */
export function readModelProto(p: PModel, ctx: ReadContext): Model {
  const m = new Model({ irVersion: toNumber(p.ir_version), opsetImports: new Map(), producerName: p.producer_name ?? '' });
  m.producerVersion = p.producer_version ?? '';
  m.domain = p.domain ?? '';
  m.modelVersion = has(p, 'model_version') ? toBigInt(p.model_version) : undefined;
  m.docString = has(p, 'doc_string') ? p.doc_string : undefined;
  for (const o of p.opset_import ?? []) m.opsetImports.set(o.domain ?? '', toNumber(o.version));
  for (const [k, v] of entriesToMap(p.metadata_props)) m.metadataProps.set(k, v);
  m.graph = readGraph(p.graph ?? {}, () => undefined, ctx);
  for (const f of p.functions ?? []) m.functions.push(readFunction(f, ctx));
  m.trainingInfo = (p.training_info ?? []).map(encodeTrainingInfo);
  const extra: Record<string, unknown> = {};
  if ((p.configuration?.length ?? 0) > 0) extra.configuration = p.configuration!.map(encodeDeviceConfiguration);
  // Header fields present with an empty value, and opset imports written without a domain field: kept so writing
  // back reproduces the bytes.
  const empty = (['producer_name', 'producer_version', 'domain'] as const).filter((k) => has(p, k) && p[k] === '');
  if (empty.length > 0) extra.emptyFields = empty;
  const noDomain = (p.opset_import ?? []).filter((o) => !has(o, 'domain')).map((o) => o.domain ?? '');
  if (noDomain.length > 0) extra.opsetWithoutDomain = noDomain;
  if ((p.$unknowns?.length ?? 0) > 0) extra.unknownFields = p.$unknowns!.map(copyBytes);
  if (Object.keys(extra).length > 0) m.extra = extra;
  return m;
}

function valueFromInfo(vi: PValueInfo, v: Value = new Value(vi.name ?? '')): Value {
  if (vi.type != null) v.type = readType(vi.type);
  if (has(vi, 'doc_string')) v.docString = vi.doc_string ?? '';
  for (const [k, s] of entriesToMap(vi.metadata_props)) v.metadataProps.set(k, s);
  return v;
}

/** GraphProto -> Graph; `outer` resolves names of enclosing graphs. @internal */
export function readGraph(p: PGraph, outer: Scope, ctx: ReadContext): Graph {
  const g = new Graph(p.name ?? '');
  if (has(p, 'doc_string')) g.docString = p.doc_string ?? '';
  for (const [k, v] of entriesToMap(p.metadata_props)) g.metadataProps.set(k, v);
  const local = new Map<string, Value>();
  const lookup: Scope = (n) => local.get(n) ?? outer(n);

  for (const vi of p.input ?? []) {
    const v = valueFromInfo(vi);
    local.set(v.name, v);
    g.addInput(v);
  }
  for (const t of p.initializer ?? []) {
    const name = t.name ?? '';
    if (g.initializers.has(name)) throw formatError(`initializer '${name}' appears twice in graph '${g.name}'`, ctx);
    const v = local.get(name) ?? new Value(name);
    v.constValue = readTensor(t, ctx);
    local.set(name, v);
    g.setInitializer(v);
  }
  for (const s of p.sparse_initializer ?? []) {
    const sparse = readSparse(s, ctx);
    const name = s.values?.name ?? '';
    if (g.sparseInitializers.has(name) || g.initializers.has(name)) {
      throw formatError(`sparse initializer '${name}' appears twice in graph '${g.name}'`, ctx);
    }
    const v = local.get(name) ?? new Value(name);
    local.set(name, v);
    g.setSparseInitializer(v, sparse);
  }
  // Outputs first, so nodes listed before their producers (not sorted) still link up.
  const nodeOutputs = (p.node ?? []).map((n) =>
    (n.output ?? []).map((name) => {
      const v = new Value(name);
      if (name !== '') local.set(name, v);
      return v;
    }),
  );
  for (const [i, pn] of (p.node ?? []).entries()) g.append(readNode(pn, nodeOutputs[i]!, lookup, local, ctx));

  // A ValueInfoProto describes the value only when nothing described it before (an input passed straight through
  // to the outputs, or a value_info repeating an output); a later, different record is kept on a detached Value.
  const described = (v: Value): boolean => v.type !== undefined || v.docString !== undefined || v.metadataProps.size > 0;
  for (const vi of p.output ?? []) {
    const name = vi.name ?? '';
    let v = lookup(name);
    if (v === undefined) {
      v = new Value(name);
      local.set(name, v);
    }
    if (!described(v)) valueFromInfo(vi, v);
    g.addOutput(v);
  }
  for (const vi of p.value_info ?? []) {
    const v = local.get(vi.name ?? '');
    g.valueInfo.push(v === undefined || described(v) ? valueFromInfo(vi) : valueFromInfo(vi, v));
  }
  for (const q of p.quantization_annotation ?? []) {
    g.quantizationAnnotation.push({
      tensorName: q.tensor_name ?? '',
      params: (q.quant_parameter_tensor_names ?? []).map((e) => [e.key ?? '', e.value ?? ''] as [string, string]),
    });
  }
  return g;
}

const EMPTY_NODE_FIELDS = ['name', 'op_type', 'domain', 'overload'] as const;

function readNode(p: PNode, outputs: Value[], lookup: Scope, local: Map<string, Value>, ctx: ReadContext): Node {
  const inputs = (p.input ?? []).map((name) => {
    if (name === '') return undefined;
    let v = lookup(name);
    if (v === undefined) {
      // Not produced anywhere: keep the name on a value without producer (onnx.checker reports such models).
      v = new Value(name);
      local.set(name, v);
    }
    return v;
  });
  const scope: Scope = (n) => lookup(n);
  const attributes: [string, Attribute][] = (p.attribute ?? []).map((a) => [a.name ?? '', readAttribute(a, scope, ctx)]);
  const node = new Node({
    opType: p.op_type ?? '',
    domain: p.domain ?? '',
    name: p.name ?? '',
    overload: p.overload ?? '',
    inputs,
    outputs,
    attributes,
    ...(has(p, 'doc_string') && { docString: p.doc_string ?? '' }),
  });
  for (const [k, v] of entriesToMap(p.metadata_props)) node.metadataProps.set(k, v);
  const extra: Record<string, unknown> = {};
  if ((p.device_configurations?.length ?? 0) > 0) extra.deviceConfigurations = p.device_configurations!.map(encodeNodeDeviceConfiguration);
  // Fields present in the file with an empty value (e.g. domain: ""), so writing back gives the same bytes.
  const empty = EMPTY_NODE_FIELDS.filter((k) => has(p, k) && p[k] === '');
  if (empty.length > 0) extra.emptyFields = empty;
  if ((p.$unknowns?.length ?? 0) > 0) extra.unknownFields = p.$unknowns!.map(copyBytes);
  if (Object.keys(extra).length > 0) node.extra = extra;
  return node;
}

function readSparse(s: PSparseTensor, ctx: ReadContext): SparseTensor {
  if (s.values == null || s.indices == null) throw formatError('a sparse tensor lacks values or indices', ctx);
  return { values: readTensor(s.values, ctx), indices: readTensor(s.indices, ctx), dims: readDims(s.dims, 'sparse tensor', ctx, false) };
}

/** AttributeProto -> Attribute. A missing `type` (IR version 1 files) is inferred from the field in use. @internal */
export function readAttribute(a: PAttribute, scope: Scope, ctx: ReadContext): Attribute {
  const type = has(a, 'type') ? ATTR_TYPES[a.type!] : inferType(a);
  const base = {
    ...(has(a, 'ref_attr_name') && { refAttrName: a.ref_attr_name ?? '' }),
    ...(has(a, 'doc_string') && { docString: a.doc_string ?? '' }),
  };
  switch (type) {
    case 'FLOAT':
      return { ...base, type, value: a.f ?? 0 };
    case 'INT':
      return { ...base, type, value: toBigInt(a.i) };
    case 'STRING':
      return { ...base, type, value: copyBytes(a.s ?? new Uint8Array(0)) };
    case 'TENSOR':
      if (a.t == null) return { ...base, type: 'UNDEFINED', value: undefined };
      return { ...base, type, value: readTensor(a.t, ctx) };
    case 'GRAPH':
      return { ...base, type, value: readGraph(a.g ?? {}, scope, ctx) };
    case 'SPARSE_TENSOR':
      return { ...base, type, value: readSparse(a.sparse_tensor ?? {}, ctx) };
    case 'TYPE_PROTO':
      return { ...base, type, value: readType(a.tp ?? {}) };
    case 'FLOATS':
      return { ...base, type, value: [...(a.floats ?? [])] };
    case 'INTS':
      return { ...base, type, value: (a.ints ?? []).map(toBigInt) };
    case 'STRINGS':
      return { ...base, type, value: (a.strings ?? []).map(copyBytes) };
    case 'TENSORS':
      return { ...base, type, value: (a.tensors ?? []).map((t) => readTensor(t, ctx)) };
    case 'GRAPHS':
      return { ...base, type, value: (a.graphs ?? []).map((g) => readGraph(g, scope, ctx)) };
    case 'SPARSE_TENSORS':
      return { ...base, type, value: (a.sparse_tensors ?? []).map((s) => readSparse(s, ctx)) };
    case 'TYPE_PROTOS':
      return { ...base, type, value: (a.type_protos ?? []).map(readType) };
    case 'UNDEFINED':
      return { ...base, type, value: undefined };
    default:
      throw formatError(`attribute '${a.name ?? ''}' has unknown type ${a.type}`, ctx);
  }
}

function inferType(a: PAttribute): (typeof ATTR_TYPES)[number] {
  if (has(a, 'f')) return 'FLOAT';
  if (has(a, 'i')) return 'INT';
  if (has(a, 's')) return 'STRING';
  if (has(a, 't')) return 'TENSOR';
  if (has(a, 'g')) return 'GRAPH';
  if (has(a, 'sparse_tensor')) return 'SPARSE_TENSOR';
  if (has(a, 'tp')) return 'TYPE_PROTO';
  if ((a.floats?.length ?? 0) > 0) return 'FLOATS';
  if ((a.ints?.length ?? 0) > 0) return 'INTS';
  if ((a.strings?.length ?? 0) > 0) return 'STRINGS';
  if ((a.tensors?.length ?? 0) > 0) return 'TENSORS';
  if ((a.graphs?.length ?? 0) > 0) return 'GRAPHS';
  if ((a.sparse_tensors?.length ?? 0) > 0) return 'SPARSE_TENSORS';
  if ((a.type_protos?.length ?? 0) > 0) return 'TYPE_PROTOS';
  return 'UNDEFINED';
}

function readFunction(f: PFunction, ctx: ReadContext): IrFunction {
  // The body is a graph whose inputs/outputs are the formal parameters (names only, no types).
  const g = readGraph(
    {
      node: f.node ?? [],
      input: (f.input ?? []).map((name) => ({ name })),
      output: (f.output ?? []).map((name) => ({ name })),
      value_info: f.value_info ?? [],
    },
    () => undefined,
    ctx,
  );
  const defaults = new Map<string, Attribute>();
  for (const a of f.attribute_proto ?? [])
    defaults.set(
      a.name ?? '',
      readAttribute(a, () => undefined, ctx),
    );
  return {
    domain: f.domain ?? '',
    name: f.name ?? '',
    overload: f.overload ?? '',
    graph: g,
    attributeNames: [...(f.attribute ?? [])],
    attributeDefaults: defaults,
    opsetImports: new Map((f.opset_import ?? []).map((o) => [o.domain ?? '', toNumber(o.version)])),
    docString: has(f, 'doc_string') ? f.doc_string : undefined,
    metadataProps: entriesToMap(f.metadata_props),
  };
}
