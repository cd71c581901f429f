/**
 * A ModelProto that sets every field of the schema (IR 12): reading it gives the IR fields, and writing it back gives
 * the same bytes. Built directly with the package's protobuf codec, so it needs no external tool.
 */
import type { Tensor } from '@mc/ir';
import { describe, expect, test } from 'vitest';
import { readOnnx, writeOnnx } from '../src/index.js';
import { decodeModelProto, encodeModelProto } from '../src/proto/codec.js';
import type { PGraph, PModel } from '../src/proto/types.js';
import { firstDiff } from './canonical.js';

const enc = new TextEncoder();
const big = { low: 5, high: 256, unsigned: false }; // 2^40 + 5: beyond 2^53 arithmetic would be lossy too
const kv = (key: string, value: string) => ({ key, value });
const f32 = (a: number[]) => new Uint8Array(Float32Array.from(a).buffer);

const body: PGraph = {
  node: [{ input: ['x'], output: ['y'], op_type: 'Identity', domain: '' }],
  name: 'then',
  input: [],
  output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
};

const model: PModel = {
  ir_version: 12,
  opset_import: [
    { domain: '', version: 21 },
    { domain: 'com.example', version: 1 },
    { domain: 'ai.onnx.ml', version: 3 }, // imported, unused: must survive
  ],
  producer_name: 'mc-test',
  producer_version: '1.0',
  domain: 'org.mc',
  model_version: big,
  doc_string: 'model doc',
  graph: {
    node: [
      {
        input: ['x', 'w', ''],
        output: ['h'],
        name: 'gemm0',
        op_type: 'Gemm',
        domain: '',
        attribute: [
          { name: 'alpha', type: 1, f: 0.5, doc_string: 'attr doc' },
          { name: 'transB', type: 2, i: 1 },
          { name: 'unknown_attr', type: 3, s: enc.encode('kept') },
          { name: 'big', type: 2, i: big },
          { name: 'fs', type: 6, floats: [1.5, -2] },
          { name: 'is', type: 7, ints: [1, big] },
          { name: 'ss', type: 8, strings: [enc.encode('a'), enc.encode('b')] },
          { name: 't', type: 4, t: { dims: [2], data_type: 7, int64_data: [3, big], name: 'attr_t' } },
          { name: 'ts', type: 9, tensors: [{ dims: [1], data_type: 11, double_data: [0.25] }] },
          { name: 'g', type: 5, g: body },
          { name: 'gs', type: 10, graphs: [body] },
          {
            name: 'sp',
            type: 11,
            sparse_tensor: {
              values: { dims: [1], data_type: 1, raw_data: f32([9]) },
              indices: { dims: [1], data_type: 7, int64_data: [2] },
              dims: [4],
            },
          },
          {
            name: 'tp',
            type: 13,
            tp: {
              sequence_type: { elem_type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'n', denotation: 'BATCH' }] } } } },
            },
          },
          {
            name: 'tps',
            type: 14,
            type_protos: [
              { optional_type: { elem_type: { tensor_type: { elem_type: 6 } } } },
              { map_type: { key_type: 8, value_type: { tensor_type: { elem_type: 1 } } } },
            ],
          },
          { name: 'ref', type: 2, ref_attr_name: 'outer' },
        ],
        doc_string: 'node doc',
        metadata_props: [kv('keras.layer', 'dense_1')],
        device_configurations: [
          {
            configuration_id: 'cfg',
            sharding_spec: [
              {
                tensor_name: 'x',
                device: [0, 1],
                index_to_device_group_map: [{ key: 0, value: [0, 1] }],
                sharded_dim: [{ axis: 0, simple_sharding: [{ dim_param: 'n', num_shards: 2 }] }],
              },
            ],
            pipeline_stage: 1,
          },
        ],
      },
      { input: ['h'], output: ['z'], name: 'fn', op_type: 'MyFn', domain: 'com.example', overload: 'v2' },
    ],
    name: 'main',
    initializer: [
      {
        dims: [2, 2],
        data_type: 1,
        name: 'w',
        float_data: [1, 2, 3, 4] as number[],
        doc_string: 'weight doc',
        metadata_props: [kv('origin', 'test')],
      },
      { dims: [3], data_type: 3, name: 'i8', int32_data: [-1, 0, 7] },
      { dims: [3], data_type: 22, name: 'i4', raw_data: new Uint8Array([0x21, 0x0f]) },
      { dims: [2], data_type: 10, name: 'h16', int32_data: [0x3c00, 0xc000] },
      { dims: [2], data_type: 12, name: 'u32', uint64_data: [7, 4294967295] },
      { dims: [2], data_type: 13, name: 'u64', uint64_data: [{ low: -1, high: -1, unsigned: true }, 1] },
      { dims: [1], data_type: 8, name: 'str', string_data: [enc.encode('héllo')] },
      { dims: [2], data_type: 1, name: 'seg', raw_data: f32([1, 2]), segment: { begin: 0, end: 2 } },
    ],
    sparse_initializer: [
      {
        values: { dims: [2], data_type: 1, name: 'sp', raw_data: f32([1, 2]) },
        indices: { dims: [2, 2], data_type: 7, raw_data: new Uint8Array(new BigInt64Array([0n, 1n, 1n, 0n]).buffer) },
        dims: [2, 2],
      },
    ],
    doc_string: 'graph doc',
    input: [
      {
        name: 'x',
        type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 2 }, {}] } }, denotation: 'TENSOR' },
        doc_string: 'input doc',
        metadata_props: [kv('k', 'v')],
      },
      { name: 'w', type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_value: 2 }, { dim_value: 2 }] } } } },
    ],
    output: [{ name: 'z', type: { tensor_type: { elem_type: 1 } } }],
    value_info: [
      {
        name: 'h',
        type: { tensor_type: { elem_type: 1, shape: { dim: [{ dim_param: 'batch' }, { dim_value: 2 }] } } },
        metadata_props: [kv('vi', '1')],
      },
      { name: 'not_in_graph', type: { sparse_tensor_type: { elem_type: 1 } } },
      { name: 'opaque', type: { opaque_type: { domain: 'com.example', name: 'Thing' } } },
    ],
    quantization_annotation: [
      { tensor_name: 'h', quant_parameter_tensor_names: [kv('SCALE_TENSOR', 'h_scale'), kv('ZERO_POINT_TENSOR', 'h_zp')] },
    ],
    metadata_props: [kv('graph.k', 'graph.v')],
  },
  metadata_props: [kv('model.k', 'model.v')],
  training_info: [{ initialization: body, algorithm: body, initialization_binding: [kv('a', 'b')], update_binding: [kv('c', 'd')] }],
  functions: [
    {
      name: 'MyFn',
      input: ['a'],
      output: ['b'],
      attribute: ['alpha'],
      attribute_proto: [{ name: 'beta', type: 1, f: 2 }],
      node: [{ input: ['a'], output: ['b'], op_type: 'Relu', domain: '', attribute: [] }],
      doc_string: 'fn doc',
      opset_import: [{ domain: '', version: 21 }],
      domain: 'com.example',
      overload: 'v2',
      value_info: [{ name: 'b', type: { tensor_type: { elem_type: 1 } } }],
      metadata_props: [kv('fn.k', 'fn.v')],
    },
  ],
  configuration: [{ name: 'cfg', num_devices: 2, device: ['gpu0', 'gpu1'] }],
};

describe('every field of the schema', () => {
  const bytes = encodeModelProto(model);

  test('round trip gives the same bytes', () => {
    const out = writeOnnx(readOnnx(bytes));
    expect(Buffer.compare(out, bytes), firstDiff(bytes, out)).toBe(0);
  });

  test('the IR carries each field', () => {
    const m = readOnnx(bytes);
    expect(m.irVersion).toBe(12);
    expect([...m.opsetImports]).toEqual([
      ['', 21],
      ['com.example', 1],
      ['ai.onnx.ml', 3],
    ]);
    expect(m.modelVersion).toBe(2n ** 40n + 5n);
    expect(m.docString).toBe('model doc');
    expect(m.metadataProps.get('model.k')).toBe('model.v');
    expect(m.trainingInfo).toHaveLength(1);
    const g = m.graph;
    expect(g.docString).toBe('graph doc');
    expect(g.metadataProps.get('graph.k')).toBe('graph.v');
    expect([...g.initializers.keys()]).toEqual(['w', 'i8', 'i4', 'h16', 'u32', 'u64', 'str', 'seg']);
    const w = g.initializers.get('w')!.constValue!;
    expect(w.info.storage).toBe('field');
    expect(w.info.docString).toBe('weight doc');
    expect(w.info.metadataProps?.get('origin')).toBe('test');
    expect(Array.from(w.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(g.initializers.get('i8')!.constValue!.data as Int8Array)).toEqual([-1, 0, 7]);
    expect((g.initializers.get('u64')!.constValue as Tensor<'uint64'>).data[0]).toBe(2n ** 64n - 1n);
    expect(g.sparseInitializers.get('sp')!.sparseValue!.dims).toEqual([2, 2]);
    expect(g.quantizationAnnotation[0]!.params).toEqual([
      ['SCALE_TENSOR', 'h_scale'],
      ['ZERO_POINT_TENSOR', 'h_zp'],
    ]);
    expect(g.valueInfo.map((v) => v.name)).toEqual(['h', 'not_in_graph', 'opaque']);
    const x = g.inputs[0]!;
    expect(x.shape).toEqual(['batch', 2, null]);
    expect(x.docString).toBe('input doc');
    expect(x.metadataProps.get('k')).toBe('v');
    const gemm = g.nodes[0]!;
    expect(gemm.inputs[2]).toBeUndefined();
    expect(gemm.docString).toBe('node doc');
    expect(gemm.metadataProps.get('keras.layer')).toBe('dense_1');
    expect(gemm.attr('big')).toEqual({ type: 'INT', value: 2n ** 40n + 5n });
    expect(gemm.attr('alpha')).toEqual({ type: 'FLOAT', value: 0.5, docString: 'attr doc' });
    expect(gemm.attr('ref')).toMatchObject({ refAttrName: 'outer' });
    expect(gemm.attrString('unknown_attr')).toBe('kept');
    expect(gemm.attr('tp')).toMatchObject({
      type: 'TYPE_PROTO',
      value: { kind: 'sequence', elem: { kind: 'tensor', dtype: 'float32', shape: ['n'], dimDenotations: ['BATCH'] } },
    });
    expect(g.nodes[1]!.overload).toBe('v2');
    const f = m.functions[0]!;
    expect([f.domain, f.name, f.overload, f.docString]).toEqual(['com.example', 'MyFn', 'v2', 'fn doc']);
    expect(f.attributeNames).toEqual(['alpha']);
    expect(f.attributeDefaults.get('beta')).toEqual({ type: 'FLOAT', value: 2 });
    expect(f.graph.valueInfo.map((v) => v.name)).toEqual(['b']);
    expect(f.metadataProps.get('fn.k')).toBe('fn.v');
  });

  test('a clone of the IR writes the same bytes (tensors shared, format info kept)', () => {
    const out = writeOnnx(readOnnx(bytes).clone());
    expect(Buffer.compare(out, bytes), firstDiff(bytes, out)).toBe(0);
  });

  test('int64 values stay exact through decode', () => {
    const p = decodeModelProto(writeOnnx(readOnnx(bytes)));
    const i = p.graph!.node![0]!.attribute!.find((a) => a.name === 'big')!.i as { low: number; high: number };
    expect([i.low, i.high]).toEqual([5, 256]);
  });
});

describe('fields from a newer schema', () => {
  test('unknown fields of ModelProto, NodeProto and TensorProto are kept and written back', () => {
    const m: PModel = {
      ir_version: 13,
      opset_import: [{ domain: '', version: 21 }],
      graph: {
        node: [{ input: ['x', 'c'], output: ['y'], op_type: 'Add', $unknowns: [new Uint8Array([0x92, 0x03, 0x01, 0x78])] }],
        initializer: [{ dims: [1], data_type: 1, name: 'c', raw_data: new Uint8Array(4), $unknowns: [new Uint8Array([0xc0, 0x02, 0x01])] }],
        input: [{ name: 'x', type: { tensor_type: { elem_type: 1 } } }],
        output: [{ name: 'y', type: { tensor_type: { elem_type: 1 } } }],
      },
      $unknowns: [new Uint8Array([0x98, 0x06, 0x07])],
    };
    const bytes = encodeModelProto(m);
    const ir = readOnnx(bytes);
    expect(ir.extra).toMatchObject({ unknownFields: [new Uint8Array([0x98, 0x06, 0x07])] });
    const out = writeOnnx(ir);
    expect(Buffer.compare(out, bytes), firstDiff(bytes, out)).toBe(0);
  });
});

test('a sparse initializer may have a dense shape far beyond what fits in memory', () => {
  const m: PModel = {
    ir_version: 10,
    opset_import: [{ domain: '', version: 21 }],
    graph: {
      sparse_initializer: [
        {
          values: { dims: [1], data_type: 1, name: 's', float_data: [3] },
          indices: { dims: [1], data_type: 7, int64_data: [123456789] },
          dims: [100000, 100000],
        },
      ],
      output: [{ name: 's' }],
    },
  };
  const bytes = encodeModelProto(m);
  const ir = readOnnx(bytes);
  expect(ir.graph.sparseInitializers.get('s')!.sparseValue!.dims).toEqual([100000, 100000]);
  expect(Buffer.compare(writeOnnx(ir), bytes)).toBe(0);
});
