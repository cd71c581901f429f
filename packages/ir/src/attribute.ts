import type { Graph } from './graph.js';
import type { Tensor } from './tensor.js';
import type { SparseTensor, TypeInfo } from './types.js';

interface AttrBase {
  /** For attributes inside function bodies that refer to an attribute of the calling node. */
  refAttrName?: string;
  docString?: string;
}

/** A node attribute, tagged with ONNX AttributeProto.AttributeType names. INT/INTS are int64: kept exact as bigint. */
export type Attribute = AttrBase &
  (
    | { type: 'FLOAT'; value: number }
    | { type: 'INT'; value: bigint }
    | { type: 'STRING'; value: Uint8Array }
    | { type: 'TENSOR'; value: Tensor }
    | { type: 'GRAPH'; value: Graph }
    | { type: 'SPARSE_TENSOR'; value: SparseTensor }
    | { type: 'TYPE_PROTO'; value: TypeInfo }
    | { type: 'FLOATS'; value: number[] }
    | { type: 'INTS'; value: bigint[] }
    | { type: 'STRINGS'; value: Uint8Array[] }
    | { type: 'TENSORS'; value: Tensor[] }
    | { type: 'GRAPHS'; value: Graph[] }
    | { type: 'SPARSE_TENSORS'; value: SparseTensor[] }
    | { type: 'TYPE_PROTOS'; value: TypeInfo[] }
    | { type: 'UNDEFINED'; value: undefined }
  );

const enc = new TextEncoder();

/**
 * Attribute constructors.
 *
 * @example
 * ```ts
 * node.setAttr('kernel_shape', attr.ints([3, 3]));
 * ```
 */
export const attr = {
  int: (v: number | bigint): Attribute => ({ type: 'INT', value: BigInt(v) }),
  ints: (v: readonly (number | bigint)[]): Attribute => ({ type: 'INTS', value: v.map((x) => BigInt(x)) }),
  float: (v: number): Attribute => ({ type: 'FLOAT', value: Math.fround(v) }),
  floats: (v: readonly number[]): Attribute => ({ type: 'FLOATS', value: v.map((x) => Math.fround(x)) }),
  string: (v: string): Attribute => ({ type: 'STRING', value: enc.encode(v) }),
  strings: (v: readonly string[]): Attribute => ({ type: 'STRINGS', value: v.map((s) => enc.encode(s)) }),
  tensor: (v: Tensor): Attribute => ({ type: 'TENSOR', value: v }),
  graph: (v: Graph): Attribute => ({ type: 'GRAPH', value: v }),
} as const;
