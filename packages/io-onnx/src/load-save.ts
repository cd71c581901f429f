import { type FileHandle, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, normalize, resolve, sep } from 'node:path';
import { McError, type Model, type Tensor } from '@mc/ir';
import type { ExternalSource } from './external-data.js';
import { readOnnx } from './read-onnx.js';
import { type Externalize, tensorBytes } from './tensor-encode.js';
import { encodeModel, PROTOBUF_LIMIT_STEP } from './write-onnx.js';

/**
 * Reads an ONNX model file. External data is resolved relative to the file's folder and read lazily.
 * Errors: `E_IO` (missing file, a directory, unreadable), `E_FORMAT`, `E_TRUNCATED`, each naming the file and the fix.
 *
 * @example
 * ```ts
 * const model = await loadOnnx('models/resnet50.onnx');
 * ```
 */
export async function loadOnnx(path: string): Promise<Model> {
  let bytes: Uint8Array;
  try {
    const st = await stat(path);
    if (st.isDirectory()) {
      throw new McError('E_IO', `${path} is a directory, not an ONNX file; pass the .onnx file inside it`, { context: { file: path } });
    }
    if (st.size > 2 ** 31 - 1) {
      throw new McError(
        'E_UNSUPPORTED',
        `${path} is ${(st.size / 2 ** 30).toFixed(2)} GiB; an ONNX protobuf file cannot exceed 2 GiB: store the weights as external data`,
        { context: { file: path } },
      );
    }
    bytes = await readFile(path);
  } catch (e) {
    if (McError.is(e)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist; check the path'
        : code === 'EACCES'
          ? 'cannot be read (permission denied); fix its permissions'
          : `cannot be read (${code ?? String(e)})`;
    throw new McError('E_IO', `${path} ${why}`, { context: { file: path }, cause: e });
  }
  return readOnnx(bytes, { file: path, baseDir: dirname(resolve(path)) });
}

/** Options for {@link saveOnnx}. */
export interface SaveOnnxOptions {
  /**
   * Where tensor bytes go. `false`: all inside the .onnx file (fails above 2 GiB). An object: every initializer of at
   * least `threshold` bytes (default 1024) goes to `location` (default `<file>.data`, next to the model), at offsets aligned
   * to `align` bytes (default 4096) for tensors at least that large. Default: tensors that were external when read
   * stay external (in `<file>.data`), the rest inline; a model that had external data, or that would exceed
   * protobuf's 2 GiB that way, is saved with every tensor of 1 KiB or more external.
   */
  externalData?: false | { location?: string; threshold?: number; align?: number };
  /** Called after each tensor written to external data (long saves of large models). */
  onProgress?: (e: { externalTensors: number; externalBytes: number }) => void;
  /** Aborts between tensors; temporary files are removed and `signal.reason` is thrown. */
  signal?: AbortSignal;
}

/** What {@link saveOnnx} wrote. */
export interface SaveOnnxResult {
  path: string;
  bytes: number;
  externalPath: string | undefined;
  externalBytes: number;
  externalTensors: number;
}

const CHUNK = 16 << 20;

function sourceOf(t: Tensor): ExternalSource | undefined {
  return (t.info.extra as { externalSource?: ExternalSource } | undefined)?.externalSource;
}

/**
 * The external-data files a model's initializers are read from (distinct absolute paths); empty for a model held inline.
 *
 * @example
 * ```ts
 * externalDataFiles(await loadOnnx('llm.onnx')); // ['/models/llm.onnx.data']
 * ```
 */
export function externalDataFiles(model: Model): string[] {
  const out = new Set<string>();
  for (const v of model.graph.initializers.values()) {
    const src = v.constValue === undefined ? undefined : sourceOf(v.constValue);
    if (src !== undefined) out.add(src.path);
  }
  return [...out];
}

/**
 * Writes a model to `path` atomically: into temporary files in the same folder, then renamed over the target, so an
 * interrupted save never leaves a half-written model. External tensors are copied one at a time (in 16 MiB chunks
 * for lazy ones), so converting a model with many GiB of external data needs little memory.
 *
 * @example
 * ```ts
 * await saveOnnx(model, 'out/model.onnx', { externalData: { threshold: 1024 } });
 * ```
 */
export async function saveOnnx(model: Model, path: string, opts: SaveOnnxOptions = {}): Promise<SaveOnnxResult> {
  const dir = dirname(resolve(path));
  const ext = opts.externalData;
  const location = (ext === undefined || ext === false ? undefined : ext.location) ?? `${basename(path)}.data`;
  const norm = normalize(location);
  if (isAbsolute(location) || norm === '..' || norm.startsWith(`..${sep}`)) {
    // Readers (onnx.checker, onnxruntime, mc) refuse external data outside the model's folder.
    throw new McError(
      'E_OPTION',
      `externalData.location '${location}' must be a path relative to the model's folder, inside it; pass e.g. '${basename(path)}.data'`,
      {
        context: { file: path },
      },
    );
  }
  if (ext !== undefined && ext !== false) {
    const bad = (k: string, v: unknown, want: string): McError =>
      new McError('E_OPTION', `externalData.${k} must be ${want}, got ${String(v)}; e.g. { threshold: 1024, align: 4096 }`, {
        context: { file: path },
      });
    if (ext.threshold !== undefined && !(ext.threshold >= 0)) throw bad('threshold', ext.threshold, 'a number of bytes >= 0');
    if (ext.align !== undefined && !(Number.isInteger(ext.align) && ext.align >= 1))
      throw bad('align', ext.align, 'a whole number of bytes >= 1');
  }
  const dataPath = resolve(dir, location);
  const align = ext === undefined || ext === false ? 4096 : (ext.align ?? 4096);
  const common = { location, dataPath, align, onProgress: opts.onProgress, signal: opts.signal };
  if (ext === false) return attempt(model, path, { ...common, threshold: Infinity, preserve: false, externalize: false });
  if (ext !== undefined) return attempt(model, path, { ...common, threshold: ext.threshold ?? 1024, preserve: false, externalize: true });
  // A model read with external data keeps it: the tensors that were external stay so, and new tensors of 1 KiB or
  // more (e.g. quantized weights replacing external ones) go there too, streamed one at a time, instead of into one
  // protobuf buffer that would hold them all in memory. Tensors computed lazily from external ones (a quantizer's
  // output when every weight was replaced) say the same of the model's origin.
  const lazy = [...model.graph.initializers.values()].some((v) => v.constValue?.isLazy === true);
  if (lazy || externalDataFiles(model).length > 0)
    return attempt(model, path, { ...common, threshold: 1024, preserve: true, externalize: true });
  try {
    return await attempt(model, path, { ...common, threshold: Infinity, preserve: true, externalize: true });
  } catch (e) {
    // Over 2 GiB inline: protobuf cannot hold it, so by default large tensors move to external data.
    if (!(McError.is(e) && e.context.step === PROTOBUF_LIMIT_STEP)) throw e;
    return attempt(model, path, { ...common, threshold: 1024, preserve: true, externalize: true });
  }
}

interface Attempt {
  location: string;
  dataPath: string;
  threshold: number;
  /** Tensors that were external when read stay external. */
  preserve: boolean;
  align: number;
  externalize: boolean;
  onProgress: SaveOnnxOptions['onProgress'];
  signal: AbortSignal | undefined;
}

/** One tensor planned for the external file: its bytes are written after the protobuf is encoded. */
interface Planned {
  t: Tensor;
  src: ExternalSource | undefined;
  start: number;
  len: number;
}

async function attempt(model: Model, path: string, a: Attempt): Promise<SaveOnnxResult> {
  const target = resolve(path);
  const { location, dataPath, threshold, align } = a;
  const suffix = `.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const tmpModel = `${target}${suffix}`;
  const tmpData = `${dataPath}${suffix}`;

  // Offsets depend only on sizes, so the protobuf is encoded first (small) and the tensor bytes are copied after,
  // asynchronously, one tensor (or 16 MiB chunk) at a time.
  const plan: Planned[] = [];
  let offset = 0;
  const externalize: Externalize | undefined = !a.externalize
    ? undefined
    : (t, _name, role) => {
        const wasExternal = a.preserve && t.info.external !== undefined;
        // Attribute tensors (Constant values) stay inline: onnxruntime reads them during shape inference and cannot
        // follow external data there.
        const wanted = wasExternal || (role === 'initializer' && t.byteLength >= threshold);
        if (!wanted) return undefined;
        const src = t.isLazy ? sourceOf(t) : undefined;
        if (src !== undefined && resolve(src.path) === dataPath) {
          throw new McError(
            'E_OPTION',
            `saving to ${path} would overwrite ${dataPath}, which this model still reads its weights from; save to another file name or folder`,
            { context: { file: path } },
          );
        }
        const len = t.byteLength;
        if (len >= align && offset % align !== 0) offset += align - (offset % align); // the gap reads as zeros
        plan.push({ t, src, start: offset, len });
        offset += len;
        return [
          { key: 'location', value: location },
          { key: 'offset', value: String(plan[plan.length - 1]!.start) },
          { key: 'length', value: String(len) },
        ];
      };

  let data: FileHandle | undefined;
  try {
    a.signal?.throwIfAborted();
    const bytes = encodeModel(model, externalize, path);
    if (plan.length > 0) {
      data = await open(tmpData, 'w');
      for (const [i, p] of plan.entries()) {
        a.signal?.throwIfAborted();
        if (p.src !== undefined) await copyRange(p.src, data, p.start, a.signal);
        else await writeAll(data, tensorBytes(p.t), p.start);
        a.onProgress?.({ externalTensors: i + 1, externalBytes: p.start + p.len });
      }
      if (offset > 0) await data.truncate(offset);
      await data.sync();
      await data.close();
      data = undefined;
    }
    const m = await open(tmpModel, 'w');
    try {
      await writeAll(m, bytes, 0);
      await m.sync();
    } finally {
      await m.close();
    }
    if (plan.length > 0) await rename(tmpData, dataPath);
    await rename(tmpModel, target);
    return {
      path: target,
      bytes: bytes.length,
      externalPath: plan.length > 0 ? dataPath : undefined,
      externalBytes: offset,
      externalTensors: plan.length,
    };
  } catch (e) {
    await data?.close().catch(() => undefined);
    await rm(tmpData, { force: true });
    await rm(tmpModel, { force: true });
    if (McError.is(e) || (a.signal?.aborted === true && e === a.signal.reason)) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new McError(
      'E_IO',
      `cannot write ${path} (${code ?? (e as Error).message}); check that the folder exists and is writable and the disk has space`,
      {
        context: { file: path },
        cause: e,
      },
    );
  }
}

async function writeAll(fh: FileHandle, b: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < b.length) {
    const { bytesWritten } = await fh.write(b, done, Math.min(b.length - done, 1 << 30), position + done);
    done += bytesWritten;
  }
}

async function copyRange(src: ExternalSource, out: FileHandle, position: number, signal: AbortSignal | undefined): Promise<void> {
  const inFh = await open(src.path, 'r');
  try {
    const buf = new Uint8Array(Math.min(CHUNK, Math.max(src.length, 1)));
    let done = 0;
    while (done < src.length) {
      signal?.throwIfAborted();
      const { bytesRead } = await inFh.read(buf, 0, Math.min(buf.length, src.length - done), src.offset + done);
      if (bytesRead === 0) throw new McError('E_TRUNCATED', `external data file ${src.path} ended early; copy it again`);
      await writeAll(out, buf.subarray(0, bytesRead), position + done);
      done += bytesRead;
    }
  } finally {
    await inFh.close();
  }
}
