import type { DType } from './dtype.js';
import type { Tensor } from './tensor.js';

/** One dimension: a size, a symbolic name (`'batch'`), or null when unknown. */
export type Dim = number | string | null;

/** A tensor shape; `undefined` where a shape is expected means "rank unknown". */
export type Shape = readonly Dim[];

/** The type of a value, mirroring ONNX TypeProto (https://onnx.ai/onnx/repo-docs/IR.html#type-system). */
export type TypeInfo =
  | { kind: 'tensor'; dtype?: DType; shape?: Shape; dimDenotations?: readonly (string | undefined)[]; denotation?: string }
  | { kind: 'sparse_tensor'; dtype?: DType; shape?: Shape; dimDenotations?: readonly (string | undefined)[]; denotation?: string }
  | { kind: 'sequence'; elem?: TypeInfo; denotation?: string }
  | { kind: 'optional'; elem?: TypeInfo; denotation?: string }
  | { kind: 'map'; keyType: DType; value?: TypeInfo; denotation?: string }
  | { kind: 'opaque'; domain: string; name: string; denotation?: string }
  | { kind: 'unknown'; denotation?: string };

/**
 * A sparse tensor in COO form, as ONNX SparseTensorProto: `values` (1-D, nnz), `indices` (int64, [nnz] linear or
 * [nnz, rank]), dense `dims`.
 */
export interface SparseTensor {
  readonly values: Tensor;
  readonly indices: Tensor;
  readonly dims: readonly number[];
}
