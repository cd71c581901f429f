import { McError, type Tensor, toFloat32 } from '@mc/ir';
import { type Group, writeH5File } from './h5.js';
import type { KerasGraph, KerasLayer } from './keras-graph.js';
import { toSnakeCase } from './read-keras-zip.js';
import { graphToConfig } from './write-config.js';

/** Fixed-length byte strings, as Keras' h5py writes `layer_names`/`weight_names` (`|S<n>`). */
function bytesAttr(g: Group, name: string, values: readonly string[]): void {
  if (values.length === 0) {
    // Keras writes an empty float64 array for a layer without weights.
    g.create_attribute(name, new Float64Array(0), [0], '<d');
    return;
  }
  const n = Math.max(1, ...values.map((v) => Buffer.byteLength(v, 'utf8')));
  g.create_attribute(name, [...values], [values.length], `S${n}`);
}

function floatData(t: Tensor, layer: string, file: string): Float32Array {
  try {
    return t.dtype === 'float32' ? (t.data as Float32Array) : toFloat32(t);
  } catch (e) {
    throw new McError('E_UNSUPPORTED', `weight of layer '${layer}' is ${t.dtype}, which Keras cannot store (writing ${file})`, {
      context: { file, layer },
      cause: e,
    });
  }
}

function dataset(g: Group, name: string, t: Tensor, layer: string, file: string): void {
  if (t.dtype === 'int64') {
    g.create_dataset({ name, data: t.data as BigInt64Array, shape: [...t.dims], dtype: '<q' });
    return;
  }
  g.create_dataset({ name, data: floatData(t, layer, file), shape: [...t.dims], dtype: '<f' });
}

/** Keras-2 weight names (`dense/kernel:0`), the form Keras 2, tf.keras and the Keras 3 legacy loader all read. */
function k2Names(l: KerasLayer): string[] {
  return l.weightNames.map((w) => `${l.name}/${w.replace(/:0$/, '').split('/').pop()}:0`);
}

/**
 * Writes a Keras 2 style HDF5 model (root attrs `keras_version`, `backend`, `model_config`; `model_weights/<layer>`
 * with `weight_names`, datasets at `<layer>/<layer>/<w>:0`) to `path` (the caller renames it into place).
 * @internal
 */
export async function writeH5(g: KerasGraph, path: string, file: string): Promise<void> {
  await writeH5File(path, (f) => {
    const version = g.kerasVersion !== undefined && !g.kerasVersion.startsWith('3') ? g.kerasVersion : '2.15.0';
    const backend = g.backend ?? 'tensorflow';
    f.create_attribute('keras_version', version);
    f.create_attribute('backend', backend);
    f.create_attribute('model_config', JSON.stringify(graphToConfig(g, 'keras2')));
    const mw = f.create_group('model_weights');
    bytesAttr(
      mw,
      'layer_names',
      g.layers.map((l) => l.name),
    );
    mw.create_attribute('backend', backend);
    mw.create_attribute('keras_version', version);
    for (const l of g.layers) {
      const lg = mw.create_group(l.name);
      const names = k2Names(l);
      bytesAttr(lg, 'weight_names', names);
      if (names.length > 0) lg.create_group(l.name);
      names.forEach((n, i) => dataset(lg, n, l.weights[i]!, l.name, file));
    }
  });
}

/**
 * Writes a Keras 3 `model.weights.h5`: `layers/<snake_case class, counted>/vars/<i>` plus the `name` attribute
 * Keras >= 3.4 adds on each `vars` group.
 * @internal
 */
export async function writeKeras3Weights(g: KerasGraph, path: string, file: string): Promise<void> {
  await writeH5File(path, (f) => {
    const layersGroup = f.create_group('layers');
    const used = new Map<string, number>();
    for (const l of g.layers) {
      if (l.className === 'InputLayer' && g.className === 'Sequential') continue;
      const base = toSnakeCase(l.className);
      const count = used.get(base);
      const gname = count === undefined ? base : `${base}_${count + 1}`;
      used.set(base, (count ?? -1) + 1);
      const lg = layersGroup.create_group(gname);
      const vars = lg.create_group('vars');
      vars.create_attribute('name', l.name);
      l.weights.forEach((t, i) => dataset(vars, String(i), t, l.name, file));
    }
    f.create_group('vars').create_attribute('name', g.name);
  });
}
