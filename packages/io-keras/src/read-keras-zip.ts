import { readFileSync } from 'node:fs';
import { McError, type Tensor } from '@mc/ir';
import { unzipSync } from 'fflate';
import { attrString, child, Dataset, datasetTensor, Group, openH5Bytes } from './h5.js';
import type { KerasMetadataJson, KerasModelJson } from './keras-format.js';
import type { KerasGraph } from './keras-graph.js';
import { validateKerasModel } from './validate.js';
import { normalizeModel, type LayerPathEntry, type WeightSource } from './normalize.js';

/** Keras' `naming.to_snake_case`: the name a `.keras` weights file gives a layer's group (`QDense` → `q_dense`). @internal */
export function toSnakeCase(name: string): string {
  return name
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Unzips a `.keras` file, mapping zip damage to coded errors. @internal */
export function unzipKeras(bytes: Uint8Array, file: string): Record<string, Uint8Array> {
  try {
    return unzipSync(bytes);
  } catch (e) {
    const msg = (e as Error).message;
    const truncated = /unexpected EOF|end of|invalid zip data|truncat/i.test(msg) || bytes.length < 22;
    throw new McError(
      truncated ? 'E_TRUNCATED' : 'E_FORMAT',
      `cannot unzip '${file}' (${msg}); the .keras file is ${truncated ? 'truncated' : 'damaged'}, save or copy it again`,
      { context: { file }, cause: e },
    );
  }
}

/**
 * Reads a Keras 3 `.keras` zip: `config.json`, `metadata.json` and `model.weights.h5` (`layers/<name>/vars/<i>`).
 * @internal
 */
export async function readKerasZip(path: string, bytes: Uint8Array): Promise<KerasGraph> {
  const entries = unzipKeras(bytes, path);
  const configBytes = entries['config.json'];
  const weightsBytes = entries['model.weights.h5'];
  if (configBytes === undefined)
    throw new McError('E_FORMAT', `'${path}' is a zip without config.json; it is not a Keras 3 .keras file`, { context: { file: path } });
  let json: KerasModelJson;
  let meta: KerasMetadataJson = {};
  try {
    json = JSON.parse(new TextDecoder().decode(configBytes)) as KerasModelJson;
    if (entries['metadata.json'] !== undefined) meta = JSON.parse(new TextDecoder().decode(entries['metadata.json'])) as KerasMetadataJson;
  } catch (e) {
    throw new McError('E_FORMAT', `config.json or metadata.json in '${path}' is not valid JSON: ${(e as Error).message}`, {
      context: { file: path },
      cause: e,
    });
  }
  validateKerasModel(json, path);
  let source: WeightSource = { layerWeights: () => ({ names: [], tensors: [] }) };
  let close = (): void => {};
  if (weightsBytes !== undefined) {
    // Zip entries are read in memory only: no entry name ever becomes a path on disk.
    const f = await openH5Bytes(weightsBytes, `${path}!model.weights.h5`);
    close = () => f.close();
    source = new KerasZipWeightSource(f, path);
  }
  try {
    const g = normalizeModel(json, source, path);
    if (typeof meta.keras_version === 'string') g.kerasVersion = meta.keras_version;
    return g;
  } finally {
    close();
  }
}

/** Reads `config.json` only (used by tests and inspect). @internal */
export function readKerasZipConfig(path: string): KerasModelJson {
  const e = unzipKeras(readFileSync(path), path);
  return JSON.parse(new TextDecoder().decode(e['config.json'])) as KerasModelJson;
}

class KerasZipWeightSource implements WeightSource {
  readonly #groups = new Map<string, Map<string, Group>>();

  constructor(
    readonly root: Group,
    readonly file: string,
  ) {}

  layerWeights(path: readonly LayerPathEntry[]): { names: string[]; tensors: Tensor[] } {
    let g: Group | undefined = this.root;
    let key = '';
    for (const entry of path) {
      if (g === undefined) break;
      key = `${key}/${entry.name}`;
      g = this.#groupFor(g, key, entry);
    }
    if (g === undefined) return { names: [], tensors: [] };
    const vars = child(g, 'vars');
    if (!(vars instanceof Group)) return { names: [], tensors: [] };
    const idx = vars
      .keys()
      .filter((k) => /^\d+$/.test(k))
      .map(Number)
      .sort((a, b) => a - b);
    const leaf = path[path.length - 1]!.name;
    const names = idx.map((i) => `vars/${i}`);
    const tensors = idx.map((i) => {
      const d = child(vars, String(i));
      if (!(d instanceof Dataset))
        throw new McError('E_FORMAT', `'${this.file}': ${vars.path}/${i} is not a dataset`, { context: { file: this.file, layer: leaf } });
      return datasetTensor(d, this.file, `${leaf}/vars/${i}`);
    });
    return { names, tensors };
  }

  /** The group of one layer inside a container group: by the `vars` name attribute when present, else by class-counted snake-case name. */
  #groupFor(parent: Group, key: string, entry: LayerPathEntry): Group | undefined {
    const layersGroup = child(parent, 'layers');
    if (!(layersGroup instanceof Group)) return undefined;
    let byName = this.#groups.get(key.slice(0, key.lastIndexOf('/')) || '/');
    if (byName === undefined) {
      byName = new Map();
      const keys = layersGroup.keys();
      for (const k of keys) {
        const sub = child(layersGroup, k);
        const vars = sub instanceof Group ? child(sub, 'vars') : undefined;
        const n = vars instanceof Group ? attrString(vars, 'name') : undefined;
        if (n !== undefined && sub instanceof Group) byName.set(n, sub);
      }
      // Without name attributes (Keras < 3.4), groups are named by class, counted in layer order.
      const used = new Map<string, number>();
      for (const s of entry.siblings) {
        const base = toSnakeCase(s.class_name);
        const count = used.get(base);
        const gname = count === undefined ? base : `${base}_${count + 1}`;
        used.set(base, (count ?? -1) + 1);
        const lname = s.name ?? s.config.name;
        const sub = child(layersGroup, gname);
        if (typeof lname === 'string' && !byName.has(lname) && sub instanceof Group) byName.set(lname, sub);
      }
      this.#groups.set(key.slice(0, key.lastIndexOf('/')) || '/', byName);
    }
    return byName.get(entry.name);
  }
}
