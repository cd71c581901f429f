import { type DataTypeMap, type DType, dtypeInfo, storageBytes } from './dtype.js';
import { McError } from './errors.js';
import { bfloat16ToFloat, halfToFloat } from './float16.js';

/** Format-level facts about how a tensor was stored, kept so writing back gives the same file. */
export interface TensorInfo {
  readonly docString?: string;
  readonly metadataProps?: ReadonlyMap<string, string>;
  /** 'raw' = ONNX raw_data; 'field' = the typed repeated field (float_data, int32_data, ...). */
  readonly storage?: 'raw' | 'field';
  /** External-data location as read (location, offset, length, checksum, ...). */
  readonly external?: ReadonlyMap<string, string>;
  /** Other attributes a reader wants to keep verbatim (e.g. TensorProto.segment). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Reads the bytes of a lazy tensor when they are first needed. */
export type TensorLoader<T extends DType> = () => DataTypeMap[T];

/**
 * An immutable typed tensor. Never write into `data`: transforms make new tensors, so `model.clone()` can share them.
 *
 * @example
 * ```ts
 * const t = new Tensor('float32', [2, 2], new Float32Array([1, 2, 3, 4]));
 * t.size; // 4
 * ```
 */
export class Tensor<T extends DType = DType> {
  readonly dtype: T;
  readonly dims: readonly number[];
  readonly size: number;
  readonly info: TensorInfo;
  #data: DataTypeMap[T] | undefined;
  #loader: TensorLoader<T> | undefined;

  constructor(dtype: T, dims: readonly number[], data: DataTypeMap[T] | TensorLoader<T>, info: TensorInfo = {}) {
    this.dtype = dtype;
    this.dims = Object.freeze([...dims]);
    let size = 1;
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 0)
        throw new McError('E_INVARIANT', `tensor dims must be non-negative integers, got [${dims.join(', ')}]`);
      size *= d;
    }
    this.size = size;
    this.info = info;
    if (typeof data === 'function') {
      this.#loader = data;
    } else {
      this.#data = data;
      checkLength(dtype, size, data);
    }
  }

  /**
   * Convenience constructor.
   *
   * @example
   * ```ts
   * Tensor.from('int64', [2], new BigInt64Array([1n, 2n]));
   * ```
   */
  static from<T extends DType>(dtype: T, dims: readonly number[], data: DataTypeMap[T], info?: TensorInfo): Tensor<T> {
    return new Tensor(dtype, dims, data, info);
  }

  /** The elements. For a lazy tensor the first read loads them from the file. */
  get data(): DataTypeMap[T] {
    if (this.#data === undefined) {
      const loader = this.#loader;
      if (loader === undefined) throw new McError('E_INVARIANT', 'tensor has neither data nor loader');
      const d = loader();
      checkLength(this.dtype, this.size, d);
      return d; // not cached: a lazy tensor stays lazy, so streaming code never holds all weights at once
    }
    return this.#data;
  }

  /** True when the bytes are not in memory yet (external data). */
  get isLazy(): boolean {
    return this.#data === undefined;
  }

  /** Stored size in bytes (packed for sub-byte dtypes; strings: sum of element lengths, loads them). */
  get byteLength(): number {
    if (this.dtype === 'string') return (this.data as Uint8Array[]).reduce((n, s) => n + s.length, 0);
    return storageBytes(this.dtype, this.size);
  }

  /** A tensor with the same data and new dims (same element count). */
  reshape(dims: readonly number[]): Tensor<T> {
    const t = new Tensor<T>(this.dtype, dims, this.#data ?? (this.#loader as TensorLoader<T>), this.info);
    if (t.size !== this.size)
      throw new McError('E_INVARIANT', `reshape [${this.dims.join(',')}] -> [${dims.join(',')}] changes the element count`);
    return t;
  }

  /** The same data with other format info. */
  withInfo(info: TensorInfo): Tensor<T> {
    return new Tensor<T>(this.dtype, this.dims, this.#data ?? (this.#loader as TensorLoader<T>), info);
  }
}

function checkLength(dtype: DType, size: number, data: unknown): void {
  const info = dtypeInfo(dtype);
  let expected: number;
  if (dtype === 'string') expected = size;
  else if (info.bits < 8) expected = storageBytes(dtype, size);
  else expected = size * info.lanes;
  const got = (data as { length: number }).length;
  if (got !== expected) {
    throw new McError('E_INVARIANT', `tensor of ${dtype}[${size}] needs ${expected} storage elements, got ${got}`);
  }
}

/**
 * Decodes any numeric tensor to float32 (int64 via Number; float16/bfloat16 decoded; sub-byte ints unpacked).
 *
 * @example
 * ```ts
 * toFloat32(Tensor.from('int8', [2], new Int8Array([-1, 2]))); // Float32Array [-1, 2]
 * ```
 */
export function toFloat32(t: Tensor): Float32Array {
  const d = t.data as unknown;
  switch (t.dtype) {
    case 'float32':
      return d as Float32Array;
    case 'float16':
      return Float32Array.from(d as Uint16Array, halfToFloat);
    case 'bfloat16':
      return Float32Array.from(d as Uint16Array, bfloat16ToFloat);
    case 'int64':
    case 'uint64':
      return Float32Array.from(d as BigInt64Array, (v) => Number(v));
    case 'int4':
    case 'uint4':
      return unpackNibbles(d as Uint8Array, t.size, t.dtype === 'int4');
    case 'float64':
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'bool':
      return Float32Array.from(d as ArrayLike<number>);
    default:
      throw new McError('E_UNSUPPORTED', `cannot read a ${t.dtype} tensor as float32; convert it to a float or integer type first`);
  }
}

/**
 * Unpacks 4-bit values (low nibble first) to floats.
 *
 * @example
 * ```ts
 * unpackNibbles(new Uint8Array([0xf1]), 2, true); // [1, -1]
 * ```
 */
export function unpackNibbles(packed: Uint8Array, count: number, signed: boolean): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const byte = packed[i >> 1]!;
    let v = i & 1 ? byte >> 4 : byte & 0xf;
    if (signed && v >= 8) v -= 16;
    out[i] = v;
  }
  return out;
}

/**
 * Packs integers into 4-bit storage, low nibble first (ONNX int4/uint4 layout).
 *
 * @example
 * ```ts
 * packNibbles([1, -1]); // Uint8Array [0xf1]
 * ```
 */
export function packNibbles(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) {
    const v = values[i]! & 0xf;
    out[i >> 1]! |= i & 1 ? v << 4 : v;
  }
  return out;
}

/**
 * Reads an integer tensor (shape-like: int64/int32) as plain numbers.
 *
 * @example
 * ```ts
 * toNumbers(Tensor.from('int64', [2], new BigInt64Array([1n, -1n]))); // [1, -1]
 * ```
 */
export function toNumbers(t: Tensor): number[] {
  const d = t.data as unknown;
  if (t.dtype === 'int64' || t.dtype === 'uint64') return Array.from(d as BigInt64Array, (v) => Number(v));
  return Array.from(toFloat32(t));
}

/**
 * A float32 tensor from numbers.
 *
 * @example
 * ```ts
 * float32Tensor([2], [1, 2]);
 * ```
 */
export function float32Tensor(dims: readonly number[], data: ArrayLike<number> | Float32Array): Tensor<'float32'> {
  return new Tensor('float32', dims, data instanceof Float32Array ? data : Float32Array.from(data));
}

/**
 * An int64 tensor from numbers (e.g. a Reshape shape).
 *
 * @example
 * ```ts
 * int64Tensor([2], [1, -1]);
 * ```
 */
export function int64Tensor(dims: readonly number[], data: ArrayLike<number | bigint>): Tensor<'int64'> {
  return new Tensor('int64', dims, BigInt64Array.from(Array.from(data, (v) => BigInt(v))));
}
