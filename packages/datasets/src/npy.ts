import { McError } from '@mc/ir';

/** Element types `.npy` files can hold that mc reads. */
export type NpyDType = 'float32' | 'float64' | 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'bool';

/** A decoded `.npy` array (C order). int64 is returned as `BigInt64Array`. */
export interface NpyArray {
  readonly dtype: NpyDType;
  readonly shape: readonly number[];
  readonly data: Float32Array | Float64Array | Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array;
}

const DESCR: Record<string, { dtype: NpyDType; bytes: number }> = {
  f4: { dtype: 'float32', bytes: 4 },
  f8: { dtype: 'float64', bytes: 8 },
  u1: { dtype: 'uint8', bytes: 1 },
  i1: { dtype: 'int8', bytes: 1 },
  b1: { dtype: 'bool', bytes: 1 },
  i2: { dtype: 'int16', bytes: 2 },
  u2: { dtype: 'uint16', bytes: 2 },
  i4: { dtype: 'int32', bytes: 4 },
  u4: { dtype: 'uint32', bytes: 4 },
  i8: { dtype: 'int64', bytes: 8 },
};

/**
 * Parses a NumPy `.npy` file (format versions 1–3, https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
 * magic `\x93NUMPY`, a Python-literal header dict with `descr`, `fortran_order` and `shape`, then the raw data.
 *
 * @example
 * ```ts
 * const { shape, data } = readNpy(await readFile('x.npy')); // shape [1000, 3, 32, 32], Float32Array
 * ```
 */
export function readNpy(bytes: Uint8Array, file?: string): NpyArray {
  const ctx = file ? { file } : {};
  const where = file ? ` in ${file}` : '';
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) {
    throw new McError('E_FORMAT', `not a .npy file${where} (no \\x93NUMPY magic); save arrays with numpy.save`, { context: ctx });
  }
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new McError('E_FORMAT', `.npy header${where} is malformed: ${JSON.stringify(header.trim())}`, { context: ctx });
  }
  if (fortran === 'True') {
    throw new McError('E_UNSUPPORTED', `.npy array${where} is in Fortran order; save it with numpy.save(np.ascontiguousarray(a))`, {
      context: ctx,
    });
  }
  const endian = descr[0];
  const info = DESCR[descr.slice(1)];
  if (info === undefined || endian === '>') {
    throw new McError(
      'E_UNSUPPORTED',
      `.npy dtype '${descr}'${where} is not supported; use little-endian float32/float64/int/uint8 arrays`,
      { context: ctx },
    );
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const size = shape.reduce((a, b) => a * b, 1);
  const start = headerStart + headerLen;
  if (bytes.length < start + size * info.bytes) {
    throw new McError(
      'E_TRUNCATED',
      `.npy data${where} is cut short: ${bytes.length - start} bytes for shape (${shape.join(', ')}) of ${descr}`,
      { context: ctx },
    );
  }
  // Copy into a fresh aligned buffer: the data offset need not be a multiple of the element size. (Uint8Array's slice,
  // not Buffer's: a Node Buffer's slice is a view into its shared pool.)
  const buf = Uint8Array.prototype.slice.call(bytes, start, start + size * info.bytes).buffer;
  const data = (() => {
    switch (info.dtype) {
      case 'float32':
        return new Float32Array(buf);
      case 'float64':
        return new Float64Array(buf);
      case 'uint8':
      case 'bool':
        return new Uint8Array(buf);
      case 'int8':
        return new Int8Array(buf);
      case 'int16':
        return new Int16Array(buf);
      case 'uint16':
        return new Uint16Array(buf);
      case 'int32':
        return new Int32Array(buf);
      case 'uint32':
        return new Uint32Array(buf);
      case 'int64':
        return new BigInt64Array(buf);
    }
  })();
  return { dtype: info.dtype, shape, data };
}
