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

/** The Tensor class of an onnxruntime package: onnxruntime-node's, or onnxruntime-web's (both onnxruntime-common's). */
export type OrtTensorClass = typeof ort.Tensor;

/**
 * IR Tensor -> ort.Tensor (strings decoded as UTF-8; int4 packed bytes reinterpreted as ORT wants), of onnxruntime-node
 * unless another runtime's Tensor class is given. @internal
 */
export function toOrt(t: Tensor, name: string, OrtTensor: OrtTensorClass = ort.Tensor): ort.Tensor {
  if (!ORT_TYPES.has(t.dtype)) {
    throw new McError(
      'E_UNSUPPORTED',
      `input '${name}' is ${t.dtype}, which onnxruntime-node cannot take as a feed; feed a supported dtype`,
    );
  }
  const dims = [...t.dims];
  if (t.dtype === 'string')
    return new OrtTensor(
      'string',
      (t.data as Uint8Array[]).map((b) => dec.decode(b)),
      dims,
    );
  const d = t.data as unknown as ArrayBufferView;
  if (t.dtype === 'int4') return new OrtTensor('int4', new Int8Array(d.buffer, d.byteOffset, d.byteLength), dims);
  return new OrtTensor(t.dtype as 'float32', d as Float32Array, dims);
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

/** Feeds as ort.Tensors of the given runtime's class (onnxruntime-node's by default). @internal */
export function feedsToOrt(feeds: Readonly<Record<string, Tensor>>, OrtTensor: OrtTensorClass = ort.Tensor): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [k, t] of Object.entries(feeds)) f[k] = toOrt(t, k, OrtTensor);
  return f;
}

/** The named outputs of a run as IR tensors (copied), skipping names the run did not return. @internal */
export function outputsFromOrt(res: Readonly<Record<string, unknown>>, names: readonly string[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of names) {
    const v = res[name];
    if (v !== undefined) out[name] = fromOrt(v as ort.Tensor);
  }
  return out;
}
