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

/**
 * ort.Tensor -> IR Tensor. onnxruntime's output buffers belong to the caller (they outlive the session), so a typed array
 * of the IR dtype's kind is kept as it is; other forms (strings, int4 bytes, a float16 view) are converted. @internal
 */
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
  const dtype = type as DType;
  const View = VIEWS[dtype];
  // onnxruntime-node and -web hand back outputs in buffers of their own (copied out of the session), so a view of the
  // right type is taken as it is: one copy per output less, which matters to loops over many batches (calibration).
  if (View !== undefined && d instanceof View) return new Tensor(dtype as 'float32', dims, d as Float32Array);
  const bytes = new Uint8Array(d.byteLength);
  bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  if (View === undefined) return new Tensor(dtype as 'uint8', dims, bytes);
  return new Tensor(dtype as 'float32', dims, new View(bytes.buffer) as Float32Array);
}

/** The typed array of each IR dtype that onnxruntime returns as such (the others come back as bytes). */
const VIEWS: Partial<Record<DType, new (b: ArrayBufferLike) => ArrayBufferView>> = {
  float32: Float32Array,
  float64: Float64Array,
  int8: Int8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  float16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  uint8: Uint8Array,
};

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
