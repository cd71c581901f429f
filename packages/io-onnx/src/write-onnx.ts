import { McError, type Model, type Tensor } from '@mc/ir';
import { encodeModelProto, encodeTensorProto } from './proto/codec.js';
import { type Externalize, writeTensor } from './tensor-encode.js';
import { writeModelProto } from './write-model.js';

/**
 * protobuf cannot encode or parse a message of 2 GiB or more: the most tensor bytes a model can hold inline.
 *
 * @example
 * ```ts
 * if (bytes > PROTOBUF_LIMIT) await saveOnnx(model, path, { externalData: { threshold: 1024 } });
 * ```
 */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/** `context.step` of the error raised when tensor data exceeds {@link PROTOBUF_LIMIT}. @internal */
export const PROTOBUF_LIMIT_STEP = 'protobuf-limit';

function tooBig(inline: number, file: string | undefined): McError {
  return new McError(
    'E_UNSUPPORTED',
    `the model holds over ${(inline / 2 ** 30).toFixed(2)} GiB of tensor data, more than the 2 GiB a protobuf file can hold` +
      `${file === undefined ? '' : ` (writing ${file})`}; save it with saveOnnx(model, path, { externalData: { threshold: 1024 } })`,
    { context: { ...(file !== undefined && { file }), step: PROTOBUF_LIMIT_STEP } },
  );
}

/** @internal */
export function encodeModel(model: Model, externalize: Externalize | undefined, file?: string): Uint8Array {
  let inline = 0;
  // Counted before any tensor byte is read, so an oversized model fails fast without loading lazy tensors.
  const count: Externalize = (t, name, role) => {
    const ext = externalize?.(t, name, role);
    if (ext === undefined) {
      inline += t.byteLength;
      if (inline > PROTOBUF_LIMIT) throw tooBig(inline, file);
    }
    return ext;
  };
  const p = writeModelProto(model, count);
  // Tensor bytes dominate; the rest (names, attributes) is covered by the slack. An underestimate only costs a copy.
  return encodeModelProto(p, Math.min(PROTOBUF_LIMIT, inline + (4 << 20) + Math.ceil(inline / 64)));
}

/**
 * Encodes a model as ONNX ModelProto bytes, everything inline (lazy external tensors are read in). For models over
 * 2 GiB use {@link saveOnnx} with `externalData`.
 *
 * @example
 * ```ts
 * const bytes = writeOnnx(model);
 * const session = await ort.InferenceSession.create(bytes);
 * ```
 */
export function writeOnnx(model: Model, opts: WriteOnnxOptions = {}): Uint8Array {
  return encodeModel(model, undefined, opts.file);
}

/** Options for {@link writeOnnx}. */
export interface WriteOnnxOptions {
  /** The file the bytes are meant for; named in error messages. */
  file?: string;
}

/**
 * Encodes one tensor as a serialized TensorProto (the format of ONNX test-data `.pb` files).
 *
 * @example
 * ```ts
 * await writeFile('input_0.pb', writeOnnxTensor(x, 'x'));
 * ```
 */
export function writeOnnxTensor(t: Tensor, name?: string): Uint8Array {
  return encodeTensorProto(writeTensor(t, name));
}
