import { closeSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { McError, Tensor } from '@mc/ir';
// The in-memory (MEMFS) build, not 'h5wasm/node': HDF5 files can hold external links, external raw storage and
// virtual datasets that make the HDF5 library open other files by name (e.g. '/etc/passwd'). In MEMFS the library
// sees only the one file mc puts there, so a Keras file can never make mc read anything else.
import { Dataset, File as H5File, Group, ready } from 'h5wasm';

/** The 8-byte HDF5 superblock signature. @internal */
export const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

interface MemFs {
  writeFile(path: string, data: Uint8Array): void;
  readFile(path: string): Uint8Array;
  unlink(path: string): void;
}

let initialised: Promise<MemFs> | undefined;
let counter = 0;

/**
 * Loads the HDF5 wasm module once and makes HDF5 errors throw instead of printing to stderr (a library never prints).
 * @internal
 */
export function h5Ready(): Promise<MemFs> {
  initialised ??= ready.then((m) => {
    (m as unknown as { activate_throwing_error_handler(): number }).activate_throwing_error_handler();
    return (m as unknown as { FS: MemFs }).FS;
  });
  return initialised;
}

/** True when the file at `path` starts with the HDF5 signature. @internal */
export function isHdf5File(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(8);
    if (readSync(fd, b, 0, 8, 0) < 8) return false;
    return HDF5_MAGIC.every((x, i) => b[i] === x);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Opens an HDF5 file for reading with clear errors: missing file (E_IO), not HDF5 or truncated (E_TRUNCATED/E_FORMAT).
 * The bytes are copied into the wasm module's private in-memory file system. The caller must `close()` it.
 * @internal
 */
export async function openH5(path: string): Promise<H5File> {
  let bytes: Uint8Array;
  try {
    statSync(path);
    bytes = readFileSync(path);
  } catch (e) {
    throw new McError('E_IO', `cannot read '${path}': ${(e as Error).message}; check the path`, { context: { file: path }, cause: e });
  }
  if (!(bytes.length >= 8 && HDF5_MAGIC.every((x, i) => bytes[i] === x))) {
    throw new McError(
      'E_FORMAT',
      `'${path}' is not an HDF5 file (no HDF5 signature in its first bytes, ${bytes.length} bytes); pass a Keras .h5 file`,
      { context: { file: path } },
    );
  }
  return openH5Bytes(bytes, path);
}

/**
 * Opens HDF5 bytes (a file read by the caller, or an entry of a .keras zip) for reading; `label` names them in errors.
 * Closing the returned file frees its in-memory copy.
 * @internal
 */
export async function openH5Bytes(bytes: Uint8Array, label: string): Promise<H5File> {
  const fs = await h5Ready();
  const mem = `/mc-read-${++counter}.h5`;
  fs.writeFile(mem, bytes);
  let f: H5File;
  try {
    f = new H5File(mem, 'r');
  } catch (e) {
    fs.unlink(mem);
    const msg = String((e as Error).message ?? e).replaceAll(mem, label);
    const truncated = /truncat|eof/i.test(msg);
    throw new McError(
      truncated ? 'E_TRUNCATED' : 'E_FORMAT',
      `cannot open HDF5 file '${label}'${truncated ? ': the file is truncated (shorter than its superblock says); download or copy it again' : `: ${firstLine(msg)}`}`,
      { context: { file: label }, cause: e },
    );
  }
  const close = f.close.bind(f);
  f.close = () => {
    const r = close();
    fs.unlink(mem);
    return r;
  };
  return f;
}

/**
 * Builds an HDF5 file in memory with `body` and writes its bytes to `path` (the caller renames it into place). Nothing
 * is written when `body` throws.
 * @internal
 */
export async function writeH5File(path: string, body: (f: H5File) => void): Promise<void> {
  const fs = await h5Ready();
  const mem = `/mc-write-${++counter}.h5`;
  try {
    const f = new H5File(mem, 'w');
    try {
      body(f);
    } finally {
      f.close();
    }
    writeFileSync(path, fs.readFile(mem));
  } finally {
    try {
      fs.unlink(mem);
    } catch {
      // never created
    }
  }
}

function firstLine(s: string): string {
  const m = /minor: (.*)$/m.exec(s);
  return (m?.[1] ?? s.split('\n')[0] ?? s).trim();
}

/** Reads an attribute as a string list (Keras writes fixed-length bytes arrays, Keras 3 variable-length strings). @internal */
export function attrStrings(obj: Group, name: string): string[] | undefined {
  const a = obj.attrs[name];
  if (a === undefined) {
    // Keras splits attributes over 64 KiB into `name0`, `name1`, ... (hdf5_format.save_attributes_to_hdf5_group).
    if (obj.attrs[`${name}0`] === undefined) return undefined;
    const out: string[] = [];
    for (let i = 0; obj.attrs[`${name}${i}`] !== undefined; i++) out.push(...(attrStrings(obj, `${name}${i}`) ?? []));
    return out;
  }
  const v = a.value as unknown;
  if (v === null || v === undefined) return [];
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : String(x)));
  if (ArrayBuffer.isView(v)) return v.byteLength === 0 ? [] : Array.from(v as unknown as ArrayLike<number>, String);
  return [String(v)];
}

/** Reads a string attribute (e.g. `model_config`). @internal */
export function attrString(obj: Group, name: string): string | undefined {
  const a = obj.attrs[name];
  if (a === undefined) return undefined;
  const v = a.value as unknown;
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  return undefined;
}

/** Reads an HDF5 dataset into a tensor (float64 weights become float32, the dtype Keras computes in). @internal */
export function datasetTensor(d: Dataset, file: string, where: string): Tensor {
  let v: unknown;
  try {
    v = d.value;
  } catch (e) {
    throw new McError(
      'E_TRUNCATED',
      `cannot read weight '${where}' from '${file}': ${firstLine(String((e as Error).message))}; the file is damaged or truncated, or the dataset keeps its data in another file (HDF5 external storage), which mc never opens`,
      { context: { file, layer: where }, cause: e },
    );
  }
  const dims = d.shape ?? [];
  if (v instanceof Float32Array) return new Tensor('float32', dims, v);
  if (v instanceof Float64Array) return new Tensor('float32', dims, Float32Array.from(v));
  if (v instanceof Int32Array) return new Tensor('int32', dims, v);
  if (v instanceof BigInt64Array) return new Tensor('int64', dims, v);
  if (v instanceof Uint8Array) return new Tensor('uint8', dims, v);
  if (v instanceof Int8Array) return new Tensor('int8', dims, v);
  if (v instanceof Uint16Array) return new Tensor('float16', dims, v);
  if (typeof v === 'number') return new Tensor('float32', [], new Float32Array([v]));
  if (typeof v === 'bigint') return new Tensor('int64', [], new BigInt64Array([v]));
  throw new McError(
    'E_UNSUPPORTED',
    `weight '${where}' in '${file}' has HDF5 type ${JSON.stringify(d.dtype)}, which mc does not read; save the model with float32 weights`,
    { context: { file, layer: where } },
  );
}

/** Child object of a group, or undefined (never throws on a missing path). @internal */
export function child(g: Group, name: string): Group | Dataset | undefined {
  try {
    if (!g.keys().includes(name.split('/')[0] ?? name)) return undefined;
    const e = g.get(name);
    return e instanceof Group || e instanceof Dataset ? e : undefined;
  } catch {
    return undefined;
  }
}

export { Dataset, Group, H5File };
