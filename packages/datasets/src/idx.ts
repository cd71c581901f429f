import { gunzipSync } from 'node:zlib';
import { McError } from '@mc/ir';

/** A decoded IDX file (the MNIST container): big-endian header, then row-major elements. */
export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

/** Decompresses when the bytes start with the gzip magic (1f 8b), so plain and .gz files both work. */
export function maybeGunzip(bytes: Uint8Array, file?: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes);
    } catch (cause) {
      throw new McError('E_TRUNCATED', `gzip data is corrupt or cut short${file ? ` in ${file}` : ''}; download the file again`, {
        context: file ? { file } : {},
        cause,
      });
    }
  }
  return bytes;
}

/**
 * Parses an IDX file of unsigned bytes (type code 0x08), as MNIST ships it (http://yann.lecun.com/exdb/mnist/):
 * magic `00 00 08 <ndim>`, `ndim` big-endian uint32 dimensions, then the data.
 *
 * @example
 * ```ts
 * const { dims, data } = readIdx(await readFile('t10k-labels-idx1-ubyte.gz')); // dims [10000]
 * ```
 */
export function readIdx(raw: Uint8Array, file?: string): IdxArray {
  const bytes = maybeGunzip(raw, file);
  const ctx = file ? { file } : {};
  const where = file ? ` in ${file}` : '';
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new McError('E_FORMAT', `not an IDX file${where} (expected magic 00 00 08 0N); pass the MNIST *-idx?-ubyte[.gz] files`, {
      context: ctx,
    });
  }
  if (bytes[2] !== 0x08) {
    throw new McError(
      'E_UNSUPPORTED',
      `IDX element type 0x${bytes[2]!.toString(16)}${where} is not supported; only unsigned bytes (0x08) are read`,
      { context: ctx },
    );
  }
  const ndim = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 4 * ndim)
    throw new McError('E_TRUNCATED', `IDX header${where} is cut short; download the file again`, { context: ctx });
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const start = 4 + 4 * ndim;
  if (bytes.length < start + size) {
    throw new McError(
      'E_TRUNCATED',
      `IDX data${where} holds ${bytes.length - start} bytes, the header promises ${size} ([${dims.join(', ')}]); download the file again`,
      { context: ctx },
    );
  }
  return { dims, data: bytes.subarray(start, start + size) };
}
