import { McError, Tensor, type DType } from '@mc/ir';
import * as ort from 'onnxruntime-node';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** IR dtypes onnxruntime-node can feed and return (its Tensor.DataTypeMap). */
const ORT_TYPES = new Set<string>([
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
  'uint4',
  'int4',
]);

/** IR Tensor -> ort.Tensor (strings decoded as UTF-8; int4 packed bytes reinterpreted as ORT wants). @internal */
export function toOrt(t: Tensor, name: string): ort.Tensor {
  if (!ORT_TYPES.has(t.dtype)) {
    throw new McError(
      'E_UNSUPPORTED',
      `input '${name}' is ${t.dtype}, which onnxruntime-node cannot take as a feed; feed a supported dtype`,
    );
  }
  const dims = [...t.dims];
  if (t.dtype === 'string')
    return new ort.Tensor(
      'string',
      (t.data as Uint8Array[]).map((b) => dec.decode(b)),
      dims,
    );
  const d = t.data as unknown as ArrayBufferView;
  if (t.dtype === 'int4') return new ort.Tensor('int4', new Int8Array(d.buffer, d.byteOffset, d.byteLength), dims);
  return new ort.Tensor(t.dtype as 'float32', d as Float32Array, dims);
}

/** ort.Tensor -> IR Tensor (copies, so the session can be released). @internal */
export function fromOrt(t: ort.Tensor): Tensor {
  const dims = [...t.dims];
  const type = t.type as string;
  if (type === 'string')
    return new Tensor(
      'string',
      dims,
      (t.data as string[]).map((s) => enc.encode(s)),
    );
  if (!ORT_TYPES.has(type)) throw new McError('E_UNSUPPORTED', `onnxruntime returned a ${type} tensor, which mc cannot compare`);
  const d = t.data as unknown as ArrayBufferView;
  const bytes = new Uint8Array(d.byteLength);
  bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  const dtype = type as DType;
  const b = bytes.buffer;
  switch (dtype) {
    case 'float32':
      return new Tensor(dtype, dims, new Float32Array(b));
    case 'float64':
      return new Tensor(dtype, dims, new Float64Array(b));
    case 'int8':
      return new Tensor(dtype, dims, new Int8Array(b));
    case 'int16':
      return new Tensor(dtype, dims, new Int16Array(b));
    case 'uint16':
    case 'float16':
      return new Tensor(dtype, dims, new Uint16Array(b));
    case 'int32':
      return new Tensor(dtype, dims, new Int32Array(b));
    case 'uint32':
      return new Tensor(dtype, dims, new Uint32Array(b));
    case 'int64':
      return new Tensor(dtype, dims, new BigInt64Array(b));
    case 'uint64':
      return new Tensor(dtype, dims, new BigUint64Array(b));
    default:
      return new Tensor(dtype as 'uint8', dims, bytes);
  }
}
