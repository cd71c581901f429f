import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { McError, type Model } from '@mc/ir';
import { HDF5_MAGIC } from './h5.js';
import type { KerasModelJson } from './keras-format.js';
import type { KerasGraph } from './keras-graph.js';
import { readIsolated } from './h5-isolate.js';
import { readH5Model } from './read-h5.js';
import { readKerasZip } from './read-keras-zip.js';
import { readTfjs } from './read-tfjs.js';
import { kerasToIr, type PassedThroughLayer } from './to-ir.js';

/** The Keras file flavours mc reads and writes. */
export type KerasFormat = 'h5' | 'keras' | 'tfjs' | 'json+h5';

/**
 * What to read: a path (`.h5`, `.keras`, TF.js `model.json`), an architecture JSON plus a weights-only h5
 * (`save_weights`), or in-memory files (`main` names the entry file; TF.js shards are looked up by name).
 */
export type KerasSource =
  | string
  | { architecture: string; weights: string }
  | { files: Readonly<Record<string, Uint8Array>>; main: string; architecture?: string };

/** The imported model with what the importer could not map. */
export interface KerasReadResult {
  model: Model;
  /** Layers kept as opaque `mc.keras` nodes (no ONNX mapping), in model order. */
  passedThrough: PassedThroughLayer[];
  format: KerasFormat;
  /** The Keras-level view (layers, weights) the IR was lowered from. */
  keras: KerasGraph;
}

function sniff(path: string): 'hdf5' | 'zip' | 'json' | 'unknown' {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(8);
    const n = readSync(fd, b, 0, 8, 0);
    if (n >= 8 && HDF5_MAGIC.every((x, i) => b[i] === x)) return 'hdf5';
    if (n >= 2 && b[0] === 0x50 && b[1] === 0x4b) return 'zip';
    const s = b.subarray(0, n).toString('utf8').trimStart();
    if (s.startsWith('{')) return 'json';
    return 'unknown';
  } catch (e) {
    throw new McError('E_IO', `cannot read '${path}': ${(e as Error).message}; check the path`, { context: { file: path }, cause: e });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads the Keras-level graph of any supported source. @internal */
export async function readKerasGraph(source: KerasSource): Promise<{ graph: KerasGraph; format: KerasFormat; file: string }> {
  if (typeof source === 'object' && 'files' in source) {
    const dir = mkdtempSync(join(tmpdir(), 'mc-keras-src-'));
    try {
      for (const [name, bytes] of Object.entries(source.files)) writeFileSync(join(dir, basename(name)), bytes);
      const main = join(dir, basename(source.main));
      const inner: KerasSource =
        source.architecture !== undefined ? { architecture: join(dir, basename(source.architecture)), weights: main } : main;
      return await readKerasGraph(inner);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (typeof source === 'object') {
    const arch = readJson(source.architecture) as KerasModelJson;
    const args = { path: source.weights, arch, archFile: source.architecture };
    const graph = await readIsolated('json+h5', args, source.weights, () => readH5Model(source.weights, arch, source.architecture));
    return { graph, format: 'json+h5', file: source.architecture };
  }
  const path = source;
  const kind = sniff(path);
  // HDF5 reads run in a worker with a time budget: libhdf5 can loop forever on a damaged file.
  if (kind === 'hdf5') return { graph: await readIsolated('h5', { path }, path, () => readH5Model(path)), format: 'h5', file: path };
  if (kind === 'zip')
    return {
      graph: await readIsolated('keras', { path }, path, () => readKerasZip(path, readFileSync(path))),
      format: 'keras',
      file: path,
    };
  if (kind === 'json') {
    const text = readFileSync(path, 'utf8');
    const json = parseJson(text, path) as Record<string, unknown>;
    if ('modelTopology' in json) return { graph: readTfjs(path, text), format: 'tfjs', file: path };
    if ('class_name' in json) {
      throw new McError(
        'E_FORMAT',
        `'${path}' is an architecture JSON without weights; pass its weights too: readKeras({architecture: '${path}', weights: '${join(dirname(path), 'weights.h5')}'})`,
        { context: { file: path } },
      );
    }
    throw new McError(
      'E_FORMAT',
      `'${path}' is JSON but neither a TF.js layers model (modelTopology) nor a Keras model config (class_name)`,
      { context: { file: path } },
    );
  }
  const size = statSync(path).size;
  if (path.endsWith('.keras') || path.endsWith('.h5') || path.endsWith('.hdf5')) {
    throw new McError(
      size < 8 ? 'E_TRUNCATED' : 'E_FORMAT',
      `'${path}' (${size} bytes) has neither the HDF5 nor the zip signature; the file is damaged or not a Keras model`,
      { context: { file: path } },
    );
  }
  throw new McError('E_FORMAT', `'${path}' is not a Keras file (.h5, .keras, model.json); mc could not recognise its first bytes`, {
    context: { file: path },
  });
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new McError('E_IO', `cannot read '${path}': ${(e as Error).message}`, { context: { file: path }, cause: e });
  }
  return parseJson(text, path);
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new McError('E_FORMAT', `'${path}' is not valid JSON: ${(e as Error).message}`, { context: { file: path }, cause: e });
  }
}

/**
 * Reads a Keras model (Keras 2/3 `.h5`, Keras 3 `.keras`, architecture JSON + weights h5, TF.js layers `model.json`)
 * into the IR. Channels-last layers are lowered with one Transpose at the conv stack's input and one before Flatten;
 * every node carries `metadataProps['keras.layer']`; unmapped layers become opaque `mc.keras` nodes.
 *
 * @example
 * ```ts
 * const { model, passedThrough } = await readKeras('model.h5');
 * const { model: m2 } = await readKeras({ architecture: 'model.json', weights: 'weights.h5' });
 * ```
 */
export async function readKeras(source: KerasSource): Promise<KerasReadResult> {
  const { graph, format, file } = await readKerasGraph(source);
  const { model, passedThrough } = kerasToIr(graph, file, format);
  return { model, passedThrough, format, keras: graph };
}

/**
 * Loads a Keras model file into the IR (see `readKeras`).
 *
 * @example
 * ```ts
 * const model = await loadKeras('mnist_convnet.keras');
 * ```
 */
export async function loadKeras(path: string): Promise<Model> {
  return (await readKeras(path)).model;
}
