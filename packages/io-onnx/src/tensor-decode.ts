import { type DataTypeMap, type DType, dtypeFromOnnx, dtypeInfo, McError, storageBytes, Tensor, type TensorInfo } from '@mc/ir';
import { has, toBigInt, toBigUint, toNumber } from './proto/codec.js';
import type { PStringStringEntry, PTensor } from './proto/types.js';
import { externalLoader, type ReadContext } from './external-data.js';

/** Largest element count we allocate for one tensor (2^31 elements); larger dims in a file are corrupt. */
const MAX_ELEMENTS = 2 ** 31;

/** @internal */
export function entriesToMap(entries: readonly PStringStringEntry[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of entries ?? []) m.set(e.key ?? '', e.value ?? '');
  return m;
}

/** @internal */
export function readDims(dims: readonly unknown[] | undefined, where: string, ctx: ReadContext, dense = true): number[] {
  const out: number[] = [];
  let size = 1;
  for (const d of (dims ?? []) as Parameters<typeof toNumber>[0][]) {
    const n = toNumber(d);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw formatError(`${where} has dimension ${n}; dimensions must be non-negative integers`, ctx);
    }
    out.push(n);
    size *= n;
  }
  // A sparse tensor's dense shape may be huge; only dense storage is bounded.
  if (dense && size > MAX_ELEMENTS) throw formatError(`${where} claims ${size} elements, more than mc can hold in one tensor`, ctx);
  return out;
}

/** @internal */
export function formatError(what: string, ctx: ReadContext): McError {
  const file = ctx.file === undefined ? '' : ` in ${ctx.file}`;
  return new McError('E_FORMAT', `${what}${file}; the file is not a valid ONNX model: re-export it or check it with onnx.checker`, {
    ...(ctx.file !== undefined && { context: { file: ctx.file } }),
  });
}

/**
 * TensorProto -> Tensor. Keeps name (via the caller), doc string, metadata, storage form (raw_data vs typed field)
 * and external-data location in `tensor.info`, so writing back reproduces the message.
 * @internal
 */
export function readTensor(p: PTensor, ctx: ReadContext): Tensor {
  const name = p.name ?? '';
  const where = `tensor '${name}'`;
  const code = p.data_type ?? 0;
  const dtype = dtypeFromOnnx(code);
  if (dtype === undefined) {
    throw new McError(
      'E_UNSUPPORTED',
      `${where} has data_type ${code}, which mc does not know${ctx.file === undefined ? '' : ` (file ${ctx.file})`}; ` +
        'convert the tensor to a standard ONNX type',
      ctx.file === undefined ? {} : { context: { file: ctx.file } },
    );
  }
  const dims = readDims(p.dims, where, ctx);
  const size = dims.reduce((a, b) => a * b, 1);
  const extra: Record<string, unknown> = {};
  if (has(p, 'name')) extra.name = name;
  if (has(p, 'segment')) extra.segment = { begin: toBigInt(p.segment?.begin), end: toBigInt(p.segment?.end) };
  if (has(p, 'data_location')) extra.dataLocation = p.data_location;
  if ((p.$unknowns?.length ?? 0) > 0) extra.unknownFields = p.$unknowns!.map(copyBytes);
  const info: { -readonly [K in keyof TensorInfo]: TensorInfo[K] } = {};
  if (has(p, 'doc_string')) info.docString = p.doc_string ?? '';
  if ((p.metadata_props?.length ?? 0) > 0) info.metadataProps = entriesToMap(p.metadata_props);
  if (Object.keys(extra).length > 0) info.extra = extra;

  if (p.data_location === 1 || (p.external_data?.length ?? 0) > 0) {
    const external = entriesToMap(p.external_data);
    info.external = external;
    info.storage = 'raw';
    if (dtype === 'string') throw formatError(`${where} is a string tensor stored as external data`, ctx);
    const { loader, source } = externalLoader(dtype, size, external, where, ctx);
    if (source !== undefined) info.extra = { ...info.extra, externalSource: source };
    return new Tensor<DType>(dtype, dims, loader as () => DataTypeMap[DType] & object, info);
  }

  if (has(p, 'raw_data')) {
    info.storage = 'raw';
    return new Tensor(dtype, dims, fromRawBytes(dtype, size, p.raw_data!, where, ctx), info);
  }
  info.storage = 'field';
  return new Tensor(dtype, dims, fromFields(dtype, size, p, where, ctx), info);
}

/** A fresh, aligned copy (protobufjs hands out views into the file buffer, possibly Node Buffers). @internal */
export function copyBytes(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** Little-endian bytes -> typed storage (copies, so the file buffer can be freed). @internal */
export function fromRawBytes(dtype: DType, size: number, raw: Uint8Array, where: string, ctx: ReadContext): DataTypeMap[DType] {
  if (dtype === 'string') throw formatError(`${where} is a string tensor with raw_data`, ctx);
  const need = storageBytes(dtype, size) * (dtypeInfo(dtype).lanes === 2 ? 1 : 1);
  if (raw.length !== need) {
    throw formatError(`${where} (${dtype}, ${size} elements) has ${raw.length} bytes of raw_data, expected ${need}`, ctx);
  }
  const copy = copyBytes(raw);
  return viewAs(dtype, copy.buffer, copy.byteOffset, copy.byteLength);
}

/** A typed view over bytes (the buffer must be aligned for the element size). @internal */
export function viewAs(dtype: DType, buf: ArrayBufferLike, off: number, len: number): DataTypeMap[DType] {
  switch (dtype) {
    case 'float32':
    case 'complex64':
      return new Float32Array(buf, off, len / 4);
    case 'float64':
    case 'complex128':
      return new Float64Array(buf, off, len / 8);
    case 'int8':
      return new Int8Array(buf, off, len);
    case 'int16':
      return new Int16Array(buf, off, len / 2);
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf, off, len / 2);
    case 'int32':
      return new Int32Array(buf, off, len / 4);
    case 'uint32':
      return new Uint32Array(buf, off, len / 4);
    case 'int64':
      return new BigInt64Array(buf, off, len / 8);
    case 'uint64':
      return new BigUint64Array(buf, off, len / 8);
    case 'string':
      throw new McError('E_INVARIANT', 'string tensors have no byte view');
    default:
      return new Uint8Array(buf, off, len);
  }
}

function fromFields(dtype: DType, size: number, p: PTensor, where: string, ctx: ReadContext): DataTypeMap[DType] {
  const info = dtypeInfo(dtype);
  const expect = (n: number, field: string): void => {
    if (n !== need) {
      throw formatError(`${where} (${dtype}, ${size} elements) has ${n} values in ${field}, expected ${need}`, ctx);
    }
  };
  const need = dtype === 'string' ? size : info.bits < 8 ? storageBytes(dtype, size) : size * info.lanes;
  switch (dtype) {
    case 'string': {
      const s = p.string_data ?? [];
      expect(s.length, 'string_data');
      return s.map(copyBytes);
    }
    case 'float32':
    case 'complex64':
      expect(p.float_data?.length ?? 0, 'float_data');
      // The TensorProto codec already hands out a fresh Float32Array.
      return p.float_data instanceof Float32Array ? p.float_data : Float32Array.from(p.float_data ?? []);
    case 'float64':
    case 'complex128':
      expect(p.double_data?.length ?? 0, 'double_data');
      return p.double_data instanceof Float64Array ? p.double_data : Float64Array.from(p.double_data ?? []);
    case 'int64': {
      const src = p.int64_data ?? [];
      expect(src.length, 'int64_data');
      const out = new BigInt64Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = toBigInt(src[i]);
      return out;
    }
    case 'uint64': {
      const src = p.uint64_data ?? [];
      expect(src.length, 'uint64_data');
      const out = new BigUint64Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = toBigUint(src[i]);
      return out;
    }
    case 'uint32': {
      const src = p.uint64_data ?? [];
      expect(src.length, 'uint64_data');
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(toBigUint(src[i]) & 0xffffffffn);
      return out;
    }
    default: {
      // int32_data carries int32 and every narrower type (bit patterns for float16/bfloat16/float8; sub-byte types
      // packed one byte per entry): onnx.proto, TensorProto.int32_data.
      const src = p.int32_data ?? [];
      expect(src.length, 'int32_data');
      switch (dtype) {
        case 'int32':
          return Int32Array.from(src);
        case 'int16':
          return Int16Array.from(src);
        case 'uint16':
        case 'float16':
        case 'bfloat16':
          return Uint16Array.from(src);
        case 'int8':
          return Int8Array.from(src);
        default:
          return Uint8Array.from(src);
      }
    }
  }
}
