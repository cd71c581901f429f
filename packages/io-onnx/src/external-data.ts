import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { type DataTypeMap, type DType, McError, resolveNamedPath, storageBytes } from '@mc/ir';
import { viewAs } from './tensor-decode.js';

/** Where a model came from: used in messages and to find external data. @internal */
export interface ReadContext {
  file?: string;
  baseDir?: string;
}

/** The file range a lazy tensor reads, kept in `tensor.info.extra.externalSource` for streaming copies. @internal */
export interface ExternalSource {
  path: string;
  offset: number;
  length: number;
}

function ioError(msg: string, file: string | undefined, cause?: unknown): McError {
  return new McError('E_IO', msg, { ...(file !== undefined && { context: { file } }), ...(cause !== undefined && { cause }) });
}

/**
 * Resolves and checks an external-data reference (onnx.proto TensorProto.external_data: location relative to the
 * model's folder, offset and length as decimal strings). Locations that leave the model's folder are refused, as
 * onnx.checker and onnxruntime do, and so are symlinks inside it that lead out and names of non-regular files.
 * @internal
 */
export function resolveExternal(
  dtype: DType,
  size: number,
  external: ReadonlyMap<string, string>,
  where: string,
  ctx: ReadContext,
): ExternalSource | undefined {
  const location = external.get('location');
  const file = ctx.file;
  const fmt = (what: string): McError =>
    new McError(
      'E_FORMAT',
      `${where}: ${what}${file === undefined ? '' : ` (model ${file})`}; re-save the model with valid external data`,
      {
        ...(file !== undefined && { context: { file } }),
      },
    );
  if (location === undefined || location === '') throw fmt('external data has no location');
  const norm = normalize(location);
  if (isAbsolute(location) || norm === '..' || norm.startsWith(`..${sep}`)) {
    throw fmt(`external data location '${location}' points outside the model's folder`);
  }
  const parseInt64 = (key: string, dflt: number): number => {
    const s = external.get(key);
    if (s === undefined) return dflt;
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw fmt(`external data ${key} '${s}' is not a non-negative integer`);
    return n;
  };
  const offset = parseInt64('offset', 0);
  const need = storageBytes(dtype, size);
  const length = parseInt64('length', need);
  if (length !== need) throw fmt(`external data length ${length} does not match ${dtype}, ${size} elements (${need} bytes)`);
  if (ctx.baseDir === undefined) return undefined;
  const path = resolveNamedPath(ctx.baseDir, location, {
    file: file ?? join(ctx.baseDir, '(model)'),
    field: `${where}: external data location`,
  });
  return { path, offset, length };
}

/** Checks that the external file exists and holds the range (called once at read time). @internal */
export function checkExternal(src: ExternalSource, where: string, ctx: ReadContext): void {
  let fd: number;
  try {
    fd = openSync(src.path, 'r');
  } catch (e) {
    throw ioError(
      `${where}: cannot open external data file ${src.path} (${(e as NodeJS.ErrnoException).code ?? 'error'})` +
        `${ctx.file === undefined ? '' : ` referenced by ${ctx.file}`}; keep the .data file next to the model`,
      ctx.file,
      e,
    );
  }
  try {
    const size = fstatSync(fd).size;
    if (src.offset + src.length > size) {
      throw new McError(
        'E_TRUNCATED',
        `${where}: external data file ${src.path} has ${size} bytes but the tensor needs bytes ${src.offset}..${src.offset + src.length}; ` +
          'the .data file is truncated or belongs to another model: copy it again',
        ctx.file === undefined ? {} : { context: { file: ctx.file } },
      );
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads `length` bytes at `offset` into a fresh (aligned) buffer. @internal */
export function readRange(src: ExternalSource, file?: string): Uint8Array {
  const out = new Uint8Array(src.length);
  let fd: number;
  try {
    fd = openSync(src.path, 'r');
  } catch (e) {
    throw ioError(`cannot open external data file ${src.path}; keep the .data file next to the model`, file, e);
  }
  try {
    let done = 0;
    while (done < src.length) {
      const n = readSync(fd, out, done, Math.min(src.length - done, 1 << 30), src.offset + done);
      if (n === 0) {
        throw new McError(
          'E_TRUNCATED',
          `external data file ${src.path} ended early; copy it again`,
          file === undefined ? {} : { context: { file } },
        );
      }
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * A loader for a lazy tensor: the bytes are read from the file each time `.data` is asked for and not cached, so
 * streaming code never holds all weights at once.
 * @internal
 */
export function externalLoader(
  dtype: DType,
  size: number,
  external: ReadonlyMap<string, string>,
  where: string,
  ctx: ReadContext,
): { loader: () => DataTypeMap[DType]; source: ExternalSource | undefined } {
  const src = resolveExternal(dtype, size, external, where, ctx);
  if (src !== undefined) checkExternal(src, where, ctx);
  const loader = (): DataTypeMap[DType] => {
    if (src === undefined) {
      throw new McError(
        'E_IO',
        `${where} is stored as external data but the model was read from bytes without a folder; ` +
          'pass {baseDir} to readOnnx or use loadOnnx(path)',
        ctx.file === undefined ? {} : { context: { file: ctx.file } },
      );
    }
    const b = readRange(src, ctx.file);
    return viewAs(dtype, b.buffer, 0, b.byteLength);
  };
  return { loader, source: src };
}
