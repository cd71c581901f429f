import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { McError, type Model } from '@mc/ir';
import { irToKeras } from './from-ir.js';
import type { KerasGraph } from './keras-graph.js';
import { writeH5 } from './write-h5.js';
import { type TfjsQuantize, tfjsFiles, writeKerasZip } from './write-formats.js';

/** Options of `saveKeras`. */
export interface SaveKerasOptions {
  /** Output flavour; by default from the extension: `.h5`/`.hdf5` → h5, `.keras` → keras, `.json` → tfjs. */
  format?: 'h5' | 'keras' | 'tfjs';
  /** TF.js only: store float weights as uint8/uint16 affine or float16 weight specs (default: as read, else float32). */
  tfjsQuantize?: TfjsQuantize;
}

/** What `saveKeras` wrote. */
export interface SaveKerasResult {
  format: 'h5' | 'keras' | 'tfjs';
  /** Every file written (model.json and its shard for TF.js). */
  files: string[];
  /** Layer classes written, in order (standard Keras layers plus opaque ones kept verbatim). */
  layers: { name: string; className: string }[];
}

function formatOf(path: string, given: SaveKerasOptions['format']): 'h5' | 'keras' | 'tfjs' {
  if (given !== undefined) return given;
  const ext = extname(path).toLowerCase();
  if (ext === '.h5' || ext === '.hdf5') return 'h5';
  if (ext === '.keras') return 'keras';
  if (ext === '.json') return 'tfjs';
  throw new McError(
    'E_OPTION',
    `cannot tell the Keras format of '${path}' from its extension; use .h5, .keras or model.json, or pass {format}`,
    { context: { file: path } },
  );
}

function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
}

/**
 * Writes an IR model imported from Keras back as standard Keras layers: a factorised Dense becomes two Dense layers,
 * a Tucker-2 conv three Conv2D layers, quantized weights are stored dequantized (TF.js can keep uint8/uint16/float16
 * weight specs). Files are written to a temp name and renamed, so a failure leaves nothing behind.
 *
 * @example
 * ```ts
 * const { model } = await readKeras('model.h5');
 * await saveKeras(model, 'compressed.h5');
 * await saveKeras(model, 'web/model.json', { tfjsQuantize: 'uint8' });
 * ```
 */
export async function saveKeras(model: Model, path: string, opts: SaveKerasOptions = {}): Promise<SaveKerasResult> {
  const format = formatOf(path, opts.format);
  const file = resolve(path);
  const graph = irToKeras(model, file);
  const files = await writeGraph(graph, file, format, opts.tfjsQuantize ?? 'none');
  return { format, files, layers: graph.layers.map((l) => ({ name: l.name, className: l.className })) };
}

/** Writes a Keras-level graph atomically. @internal */
export async function writeGraph(
  graph: KerasGraph,
  file: string,
  format: 'h5' | 'keras' | 'tfjs',
  quantize: TfjsQuantize,
): Promise<string[]> {
  const temps: string[] = [];
  try {
    if (format === 'tfjs') {
      const shardName = `${basename(file, extname(file))}.weights.bin`;
      const { json, shard } = tfjsFiles(graph, shardName, quantize);
      const shardPath = join(dirname(file), shardName);
      const t1 = tmpName(shardPath);
      const t2 = tmpName(file);
      temps.push(t1, t2);
      writeFileSync(t1, shard);
      writeFileSync(t2, json);
      renameSync(t1, shardPath);
      renameSync(t2, file);
      return [file, shardPath];
    }
    const t = tmpName(file);
    temps.push(t, `${t}.weights.h5`);
    if (format === 'h5') await writeH5(graph, t, file);
    else await writeKerasZip(graph, t, file);
    renameSync(t, file);
    return [file];
  } catch (e) {
    throw McError.is(e)
      ? e.withContext({ file })
      : new McError('E_IO', `cannot write '${file}': ${(e as Error).message}`, { context: { file }, cause: e });
  } finally {
    for (const t of temps) if (existsSync(t)) rmSync(t, { force: true });
  }
}
