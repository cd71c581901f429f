import { McError, type Model, type Tensor } from '@mc/ir';
import { decodeTensorProto } from './proto/codec.js';
import { decodeBytes, readModelProto } from './read-model.js';
import { readTensor } from './tensor-decode.js';

/** Options for {@link readOnnx}. */
export interface ReadOnnxOptions {
  /** The file the bytes came from; named in error messages. */
  file?: string;
  /** Folder that external-data locations are relative to (usually the model's folder). */
  baseDir?: string;
}

/**
 * Decodes an ONNX model (ModelProto bytes) into the mc IR. Nothing in the file is dropped: doc strings,
 * value_info, metadata_props, functions, training_info, sparse initializers, quantization annotations,
 * unused opset imports and each tensor's storage form all survive a `writeOnnx` round trip.
 * Tensors stored as external data become lazy: their bytes are read from `baseDir` only when needed.
 * Errors are `McError` with code `E_FORMAT` (not ONNX), `E_TRUNCATED` (cut short) or `E_UNSUPPORTED`.
 *
 * @example
 * ```ts
 * const model = readOnnx(new Uint8Array(await readFile('mnist.onnx')), { file: 'mnist.onnx', baseDir: '.' });
 * model.graph.nodes.length; // 8
 * ```
 */
export function readOnnx(bytes: Uint8Array, opts: ReadOnnxOptions = {}): Model {
  const ctx = { ...(opts.file !== undefined && { file: opts.file }), ...(opts.baseDir !== undefined && { baseDir: opts.baseDir }) };
  const p = decodeBytes(bytes, ctx);
  try {
    return readModelProto(p, ctx);
  } catch (e) {
    if (McError.is(e)) throw opts.file === undefined ? e : e.withContext({ file: opts.file });
    // Anything else is a corrupt structure protobuf accepted but the IR cannot hold (e.g. stack overflow on
    // absurdly nested graphs).
    throw new McError('E_FORMAT', `${opts.file ?? 'the input'} is not a valid ONNX model (${(e as Error).message}); re-export it`, {
      ...(opts.file !== undefined && { context: { file: opts.file } }),
      cause: e,
    });
  }
}

/**
 * Decodes one serialized TensorProto (the `input_0.pb` files of ONNX test data) into a Tensor.
 *
 * @example
 * ```ts
 * const x = readOnnxTensor(new Uint8Array(await readFile('test_data_set_0/input_0.pb')));
 * x.dims; // [1, 3, 224, 224]
 * ```
 */
export function readOnnxTensor(bytes: Uint8Array, opts: ReadOnnxOptions = {}): Tensor {
  const ctx = { ...(opts.file !== undefined && { file: opts.file }), ...(opts.baseDir !== undefined && { baseDir: opts.baseDir }) };
  let p;
  try {
    p = decodeTensorProto(bytes);
  } catch (e) {
    throw new McError('E_FORMAT', `${opts.file ?? 'the input'} is not a serialized ONNX TensorProto (${(e as Error).message})`, {
      ...(opts.file !== undefined && { context: { file: opts.file } }),
      cause: e,
    });
  }
  return readTensor(p, ctx);
}
