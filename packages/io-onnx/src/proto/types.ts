/**
 * Shapes of decoded ONNX messages, as protobufjs reflection gives them (field names as in onnx.proto).
 * A field is present when it is an own property that is not null/undefined; repeated fields are arrays.
 * These types never leave @mc/io-onnx.
 * @internal
 */

/** int64 as protobufjs hands it out: a Long-like object (exact) or, for small values we write, a number. */
export type PInt64 = number | { low: number; high: number; unsigned?: boolean };

export interface PStringStringEntry {
  key?: string;
  value?: string;
}

export interface POperatorSetId {
  domain?: string;
  version?: PInt64;
}

export interface PSegment {
  begin?: PInt64;
  end?: PInt64;
}

/** Raw bytes of fields the schema does not know, as protobufjs keeps them (`$unknowns`). */
export interface PUnknowns {
  $unknowns?: Uint8Array[];
}

export interface PTensor extends PUnknowns {
  dims?: PInt64[];
  data_type?: number;
  segment?: PSegment;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: PInt64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  /** Written as raw_data, produced only while encoding (lazy tensors: read, written, dropped). Not a proto field. */
  raw_data_thunk?: () => Uint8Array;
  external_data?: PStringStringEntry[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: PInt64[];
  metadata_props?: PStringStringEntry[];
}

export interface PSparseTensor {
  values?: PTensor;
  indices?: PTensor;
  dims?: PInt64[];
}

export interface PDimension {
  dim_value?: PInt64;
  dim_param?: string;
  denotation?: string;
}

export interface PTensorShape {
  dim?: PDimension[];
}

export interface PType {
  tensor_type?: { elem_type?: number; shape?: PTensorShape };
  sequence_type?: { elem_type?: PType };
  map_type?: { key_type?: number; value_type?: PType };
  optional_type?: { elem_type?: PType };
  sparse_tensor_type?: { elem_type?: number; shape?: PTensorShape };
  opaque_type?: { domain?: string; name?: string };
  denotation?: string;
}

export interface PValueInfo {
  name?: string;
  type?: PType;
  doc_string?: string;
  metadata_props?: PStringStringEntry[];
}

export interface PAttribute {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: PInt64;
  s?: Uint8Array;
  t?: PTensor;
  g?: PGraph;
  sparse_tensor?: PSparseTensor;
  tp?: PType;
  floats?: number[];
  ints?: PInt64[];
  strings?: Uint8Array[];
  tensors?: PTensor[];
  graphs?: PGraph[];
  sparse_tensors?: PSparseTensor[];
  type_protos?: PType[];
}

export interface PIntIntListEntry {
  key?: PInt64;
  value?: PInt64[];
}

export interface PSimpleShardedDim {
  dim_value?: PInt64;
  dim_param?: string;
  num_shards?: PInt64;
}

export interface PShardedDim {
  axis?: PInt64;
  simple_sharding?: PSimpleShardedDim[];
}

export interface PShardingSpec {
  tensor_name?: string;
  device?: PInt64[];
  index_to_device_group_map?: PIntIntListEntry[];
  sharded_dim?: PShardedDim[];
}

export interface PNodeDeviceConfiguration {
  configuration_id?: string;
  sharding_spec?: PShardingSpec[];
  pipeline_stage?: number;
}

export interface PNode extends PUnknowns {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: PAttribute[];
  doc_string?: string;
  metadata_props?: PStringStringEntry[];
  device_configurations?: PNodeDeviceConfiguration[];
}

export interface PTensorAnnotation {
  tensor_name?: string;
  quant_parameter_tensor_names?: PStringStringEntry[];
}

export interface PGraph {
  node?: PNode[];
  name?: string;
  initializer?: PTensor[];
  sparse_initializer?: PSparseTensor[];
  doc_string?: string;
  input?: PValueInfo[];
  output?: PValueInfo[];
  value_info?: PValueInfo[];
  quantization_annotation?: PTensorAnnotation[];
  metadata_props?: PStringStringEntry[];
}

export interface PFunction {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attribute_proto?: PAttribute[];
  node?: PNode[];
  doc_string?: string;
  opset_import?: POperatorSetId[];
  domain?: string;
  overload?: string;
  value_info?: PValueInfo[];
  metadata_props?: PStringStringEntry[];
}

export interface PTrainingInfo {
  initialization?: PGraph;
  algorithm?: PGraph;
  initialization_binding?: PStringStringEntry[];
  update_binding?: PStringStringEntry[];
}

export interface PDeviceConfiguration {
  name?: string;
  num_devices?: number;
  device?: string[];
}

export interface PModel extends PUnknowns {
  ir_version?: PInt64;
  opset_import?: POperatorSetId[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: PInt64;
  doc_string?: string;
  graph?: PGraph;
  metadata_props?: PStringStringEntry[];
  training_info?: PTrainingInfo[];
  functions?: PFunction[];
  configuration?: PDeviceConfiguration[];
}
