import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { float16ToFloat32, McError, resolveNamedPath, Tensor } from '@mc/ir';
import { isObject, type KerasModelJson, type TfjsModelJson, type TfjsWeightSpecJson } from './keras-format.js';
import type { KerasGraph } from './keras-graph.js';
import { validateKerasModel, validateTfjsManifest } from './validate.js';
import { normalizeModel, type LayerPathEntry, type WeightSource } from './normalize.js';

/** Bytes per stored element of a TF.js weight spec. @internal */
export function tfjsStoredBytes(spec: TfjsWeightSpecJson): number {
  const q = spec.quantization?.dtype;
  if (q === 'uint8') return 1;
  if (q === 'uint16' || q === 'float16') return 2;
  if (spec.dtype === 'bool') return 1;
  if (spec.dtype === 'complex64') return 8;
  return 4;
}

/**
 * Reads a TF.js layers model: `model.json` plus the shard files its `weightsManifest` names (relative to the JSON).
 * Quantized weights (uint8/uint16 affine, float16) are dequantized to float32; the spec is kept in `tensor.info.extra`
 * so a TF.js writer can store them the same way again.
 * @internal
 */
export function readTfjs(path: string, text: string): KerasGraph {
  let json: TfjsModelJson;
  try {
    json = JSON.parse(text) as TfjsModelJson;
  } catch (e) {
    throw new McError('E_FORMAT', `'${path}' is not valid JSON: ${(e as Error).message}`, { context: { file: path }, cause: e });
  }
  if (!isObject(json))
    throw new McError(
      'E_FORMAT',
      `'${path}' holds JSON ${Array.isArray(json) ? 'an array' : String(json)}, not a TF.js model.json object; pick the model.json file`,
      { context: { file: path } },
    );
  const topo = json.modelTopology as Record<string, unknown> | undefined;
  if (!isObject(topo))
    throw new McError('E_FORMAT', `'${path}' has no modelTopology; it is not a TF.js layers model (graph models are not Keras)`, {
      context: { file: path },
    });
  const model = (isObject(topo.model_config) ? topo.model_config : topo) as unknown as KerasModelJson;
  validateKerasModel(model, path, isObject(topo.model_config) ? 'modelTopology.model_config' : 'modelTopology');
  validateTfjsManifest(json.weightsManifest, path);
  const tensors = new Map<string, Tensor>();
  const dir = dirname(path);
  (json.weightsManifest ?? []).forEach((group, gi) => {
    // Every shard name is resolved inside model.json's folder (symlinks followed) before anything is opened.
    const files = group.paths.map((p, pi) => resolveNamedPath(dir, p, { file: path, field: `weightsManifest[${gi}].paths[${pi}]` }));
    const parts = files.map((file, pi) => {
      if (!existsSync(file))
        throw new McError(
          'E_IO',
          `weight shard '${group.paths[pi]}' named by '${path}' is missing (looked for ${file}); keep the shards next to model.json`,
          { context: { file: path } },
        );
      return readFileSync(file);
    });
    const buf = Buffer.concat(parts);
    let offset = 0;
    for (const spec of group.weights) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const n = size * tfjsStoredBytes(spec);
      if (offset + n > buf.length) {
        throw new McError(
          'E_TRUNCATED',
          `weight '${spec.name}' needs bytes ${offset}..${offset + n} but the shards of '${path}' hold ${buf.length}; a shard is truncated`,
          { context: { file: path, layer: spec.name } },
        );
      }
      tensors.set(spec.name, decodeWeight(spec, buf.subarray(offset, offset + n), size));
      offset += n;
    }
  });
  const g = normalizeModel(model, new TfjsWeightSource(tensors), path);
  if (typeof topo.keras_version === 'string') g.kerasVersion = topo.keras_version;
  if (typeof topo.backend === 'string') g.backend = topo.backend;
  return g;
}

function decodeWeight(spec: TfjsWeightSpecJson, bytes: Uint8Array, size: number): Tensor {
  const copy = new Uint8Array(bytes); // aligned copy
  const q = spec.quantization;
  const info = q === undefined ? {} : { extra: { tfjsQuantization: q } };
  if (q !== undefined) {
    let out: Float32Array;
    if (q.dtype === 'float16') out = float16ToFloat32(new Uint16Array(copy.buffer, 0, size));
    else {
      const raw = q.dtype === 'uint8' ? copy : new Uint16Array(copy.buffer, 0, size);
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      out = new Float32Array(size);
      for (let i = 0; i < size; i++) out[i] = raw[i]! * scale + min;
    }
    if (spec.dtype === 'int32' || q.original_dtype === 'int32')
      return new Tensor('int32', spec.shape, Int32Array.from(out, Math.round), info);
    return new Tensor('float32', spec.shape, out, info);
  }
  switch (spec.dtype) {
    case 'float32':
      return new Tensor('float32', spec.shape, new Float32Array(copy.buffer, 0, size));
    case 'int32':
      return new Tensor('int32', spec.shape, new Int32Array(copy.buffer, 0, size));
    case 'bool':
      return new Tensor('bool', spec.shape, copy);
    default:
      throw new McError('E_UNSUPPORTED', `weight '${spec.name}' has dtype ${spec.dtype}, which mc does not read`, {
        context: { layer: spec.name },
      });
  }
}

class TfjsWeightSource implements WeightSource {
  readonly #taken = new Set<string>();
  constructor(readonly tensors: Map<string, Tensor>) {}

  layerWeights(path: readonly LayerPathEntry[]): { names: string[]; tensors: Tensor[] } {
    const leaf = path[path.length - 1]!.name;
    const names: string[] = [];
    for (const name of this.tensors.keys()) {
      if (this.#taken.has(name)) continue;
      const parts = name.split('/');
      if (parts.slice(0, -1).includes(leaf)) names.push(name);
    }
    for (const n of names) this.#taken.add(n);
    return { names, tensors: names.map((n) => this.tensors.get(n)!) };
  }
}
