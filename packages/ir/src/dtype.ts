/**
 * Tensor element types, with the ONNX spec's names lower-cased (TensorProto.DataType in onnx.proto).
 */
export type DType =
  | 'float32'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'string'
  | 'bool'
  | 'float16'
  | 'float64'
  | 'uint32'
  | 'uint64'
  | 'complex64'
  | 'complex128'
  | 'bfloat16'
  | 'float8e4m3fn'
  | 'float8e4m3fnuz'
  | 'float8e5m2'
  | 'float8e5m2fnuz'
  | 'uint4'
  | 'int4'
  | 'float4e2m1'
  | 'float8e8m0'
  | 'uint2'
  | 'int2';

/** Storage of each dtype. Sub-byte types are packed, low bits first, exactly as ONNX raw_data stores them. */
export interface DataTypeMap {
  float32: Float32Array;
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  string: Uint8Array[];
  bool: Uint8Array;
  float16: Uint16Array;
  float64: Float64Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  complex64: Float32Array;
  complex128: Float64Array;
  bfloat16: Uint16Array;
  float8e4m3fn: Uint8Array;
  float8e4m3fnuz: Uint8Array;
  float8e5m2: Uint8Array;
  float8e5m2fnuz: Uint8Array;
  uint4: Uint8Array;
  int4: Uint8Array;
  float4e2m1: Uint8Array;
  float8e8m0: Uint8Array;
  uint2: Uint8Array;
  int2: Uint8Array;
}

/** Facts about one dtype. `bits` is per element; `lanes` is 2 for complex (two floats per element). */
export interface DTypeInfo {
  readonly dtype: DType;
  /** TensorProto.DataType enum value. */
  readonly onnx: number;
  readonly bits: number;
  readonly isFloat: boolean;
  readonly isInteger: boolean;
  readonly signed: boolean;
  readonly lanes: 1 | 2;
}

const TABLE: readonly [DType, number, number, 'f' | 'i' | 'u' | 'o', (1 | 2)?][] = [
  ['float32', 1, 32, 'f'],
  ['uint8', 2, 8, 'u'],
  ['int8', 3, 8, 'i'],
  ['uint16', 4, 16, 'u'],
  ['int16', 5, 16, 'i'],
  ['int32', 6, 32, 'i'],
  ['int64', 7, 64, 'i'],
  ['string', 8, 0, 'o'],
  ['bool', 9, 8, 'o'],
  ['float16', 10, 16, 'f'],
  ['float64', 11, 64, 'f'],
  ['uint32', 12, 32, 'u'],
  ['uint64', 13, 64, 'u'],
  ['complex64', 14, 64, 'o', 2],
  ['complex128', 15, 128, 'o', 2],
  ['bfloat16', 16, 16, 'f'],
  ['float8e4m3fn', 17, 8, 'f'],
  ['float8e4m3fnuz', 18, 8, 'f'],
  ['float8e5m2', 19, 8, 'f'],
  ['float8e5m2fnuz', 20, 8, 'f'],
  ['uint4', 21, 4, 'u'],
  ['int4', 22, 4, 'i'],
  ['float4e2m1', 23, 4, 'f'],
  ['float8e8m0', 24, 8, 'f'],
  ['uint2', 25, 2, 'u'],
  ['int2', 26, 2, 'i'],
];

const BY_NAME = new Map<DType, DTypeInfo>();
const BY_ONNX = new Map<number, DTypeInfo>();
for (const [dtype, onnx, bits, kind, lanes] of TABLE) {
  const info: DTypeInfo = {
    dtype,
    onnx,
    bits,
    isFloat: kind === 'f',
    isInteger: kind === 'i' || kind === 'u',
    signed: kind === 'i' || kind === 'f',
    lanes: lanes ?? 1,
  };
  BY_NAME.set(dtype, info);
  BY_ONNX.set(onnx, info);
}

/**
 * Facts about a dtype.
 *
 * @example
 * ```ts
 * dtypeInfo('int4').bits; // 4
 * ```
 */
export function dtypeInfo(dtype: DType): DTypeInfo {
  const info = BY_NAME.get(dtype);
  if (info === undefined) throw new TypeError(`unknown dtype ${String(dtype)}`);
  return info;
}

/**
 * The dtype for a TensorProto.DataType number, or undefined (UNDEFINED = 0 and future values).
 *
 * @example
 * ```ts
 * dtypeFromOnnx(1); // 'float32'
 * ```
 */
export function dtypeFromOnnx(n: number): DType | undefined {
  return BY_ONNX.get(n)?.dtype;
}

/**
 * True for a dtype name mc knows.
 *
 * @example
 * ```ts
 * isDType('float32'); // true
 * ```
 */
export function isDType(s: string): s is DType {
  return BY_NAME.has(s as DType);
}

/**
 * Bytes needed to store `count` elements of `dtype` (sub-byte types packed; strings report 0).
 *
 * @example
 * ```ts
 * storageBytes('int4', 5); // 3
 * ```
 */
export function storageBytes(dtype: DType, count: number): number {
  const { bits } = dtypeInfo(dtype);
  return Math.ceil((count * bits) / 8);
}
