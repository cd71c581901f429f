import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { McError, type Model } from '@mc/ir';
import { guardOutput } from './temp-files.js';

/** Model file formats the CLI reads and writes. */
export type ModelFormat = 'onnx' | 'keras-h5' | 'keras-zip' | 'tfjs' | 'keras-json';

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];

async function head(file: string): Promise<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const buf = new Uint8Array(64);
    const { bytesRead } = await fh.read(buf, 0, 64, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const startsWith = (b: Uint8Array, magic: number[]): boolean => magic.every((m, i) => b[i] === m);

/** Checks that `file` is a readable regular file; names the fix otherwise. */
export async function checkInputFile(file: string): Promise<number> {
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    const code = errnoCode(e);
    throw new McError(
      'E_IO',
      code === 'ENOENT' ? `input file ${file} does not exist; check the path` : `cannot read ${file} (${code ?? String(e)})`,
      { context: { file }, cause: e },
    );
  }
  if (st.isDirectory()) {
    throw new McError(
      'E_IO',
      `${file} is a directory, not a model file; pass the model file inside it (e.g. ${path.join(file, 'model.onnx')})`,
      { context: { file } },
    );
  }
  if (st.size === 0)
    throw new McError('E_FORMAT', `${file} is empty (0 bytes); it is not a model — re-export or re-download it`, { context: { file } });
  return st.size;
}

/** The format of an input file, from its first bytes (and its name for JSON). */
export async function detectFormat(file: string): Promise<ModelFormat> {
  await checkInputFile(file);
  const b = await head(file);
  if (startsWith(b, HDF5_MAGIC)) return 'keras-h5';
  if (startsWith(b, ZIP_MAGIC)) return 'keras-zip';
  const text = new TextDecoder().decode(b).trimStart();
  if (text.startsWith('{')) return file.endsWith('model.json') || /"modelTopology"|"weightsManifest"/.test(text) ? 'tfjs' : 'keras-json';
  return 'onnx';
}

/** The output format implied by a file name. */
export function outputFormat(file: string): ModelFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.h5' || ext === '.hdf5') return 'keras-h5';
  if (ext === '.keras') return 'keras-zip';
  if (ext === '.json') return 'tfjs';
  throw new McError(
    'E_OPTION',
    `cannot tell the output format of ${file} from its extension '${ext || '(none)'}'; use .onnx, .h5, .keras or model.json`,
    { context: { file } },
  );
}

interface KerasIo {
  loadKeras(file: string): Promise<Model | { model: Model }>;
  saveKeras(model: Model, file: string, opts: { format: 'h5' | 'keras' | 'tfjs' }): Promise<{ files: string[] }>;
}

async function kerasIo(): Promise<KerasIo> {
  try {
    // Imported by name at run time so the CLI starts (and ONNX works) without the HDF5 wasm module loaded.
    const specifier = '@mc/io-keras';
    return (await import(specifier)) as KerasIo;
  } catch (e) {
    throw new McError(
      'E_UNSUPPORTED',
      `Keras formats need @mc/io-keras, which could not be loaded (${e instanceof Error ? e.message : String(e)})`,
      { cause: e },
    );
  }
}

/** A model read from disk with what the report needs about its file. */
export interface LoadedModel {
  model: Model;
  format: ModelFormat;
  file: string;
  bytes: number;
}

/** Reads any supported model file into the IR. Errors name the file. */
export async function loadModel(file: string): Promise<LoadedModel> {
  const bytes = await checkInputFile(file);
  const format = await detectFormat(file);
  try {
    let model: Model;
    if (format === 'onnx') {
      const { loadOnnx } = await import('@mc/io-onnx');
      model = await loadOnnx(file);
    } else {
      const io = await kerasIo();
      const r = await io.loadKeras(file);
      model = 'graph' in r ? r : r.model;
    }
    return { model, format, file, bytes };
  } catch (e) {
    throw McError.is(e)
      ? e.withContext({ file })
      : new McError('E_FORMAT', `cannot read ${file} as ${format}: ${e instanceof Error ? e.message : String(e)}`, {
          context: { file },
          cause: e,
        });
  }
}

/** Writes a model in the format its file name says, atomically (the writers use temp file + rename); the bytes written (a TF.js model.json with its shards). */
export async function saveModel(model: Model, file: string, inputFile?: string): Promise<number> {
  const format = outputFormat(file);
  if (inputFile !== undefined && path.resolve(inputFile) === path.resolve(file)) {
    throw new McError('E_OPTION', `output ${file} is the input file; mc never writes over its input — choose another output path`, {
      context: { file },
    });
  }
  // Registered while written, so SIGINT/SIGTERM remove the writers' temp files (see temp-files.ts).
  const release = guardOutput(file);
  try {
    if (format === 'onnx') {
      const { saveOnnx } = await import('@mc/io-onnx');
      await saveOnnx(model, file);
    } else {
      const io = await kerasIo();
      const { files } = await io.saveKeras(model, file, {
        format: format === 'keras-h5' ? 'h5' : format === 'keras-zip' ? 'keras' : 'tfjs',
      });
      // A TF.js model.json comes with its weight shard: the bytes written are both files'.
      let bytes = 0;
      for (const f of files) bytes += (await stat(f)).size;
      return bytes;
    }
  } finally {
    release();
  }
  return (await stat(file)).size;
}

/** The `code` of a Node.js system error (`ENOENT`, `EACCES`, ...), or undefined for any other value. */
export function errnoCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}
