import { McError, type Tensor } from '@mc/ir';
import { attrString, attrStrings, child, Dataset, datasetTensor, Group, openH5 } from './h5.js';
import type { KerasModelJson } from './keras-format.js';
import type { KerasGraph } from './keras-graph.js';
import { validateKerasModel } from './validate.js';
import { normalizeModel, type LayerPathEntry, type WeightSource } from './normalize.js';

/**
 * Reads a Keras HDF5 file: a full model (`model_config` + `model_weights`, Keras 2, tf.keras and Keras 3 legacy h5) or
 * a weights-only file from `save_weights` (`layer_names` at the root) together with the architecture JSON.
 * @internal
 */
export async function readH5Model(path: string, architecture?: KerasModelJson, archFile?: string): Promise<KerasGraph> {
  const f = await openH5(path);
  try {
    const configText = attrString(f, 'model_config');
    let json: KerasModelJson;
    if (architecture !== undefined) {
      json = architecture;
    } else if (configText !== undefined) {
      try {
        json = JSON.parse(configText) as KerasModelJson;
      } catch (e) {
        throw new McError('E_FORMAT', `the model_config attribute of '${path}' is not valid JSON: ${(e as Error).message}`, {
          context: { file: path },
          cause: e,
        });
      }
    } else {
      throw new McError(
        'E_FORMAT',
        `'${path}' holds weights only (no model_config attribute): it was written by save_weights(); pass the architecture JSON too, e.g. readKeras({weights: '${path}', json: 'model.json'})`,
        { context: { file: path } },
      );
    }
    validateKerasModel(json, archFile ?? path, architecture !== undefined ? '' : 'model_config');
    const root = child(f, 'model_weights');
    const weightsRoot = root instanceof Group ? root : f;
    if (attrStrings(weightsRoot, 'layer_names') === undefined) {
      throw new McError(
        'E_FORMAT',
        `'${path}' has no layer_names attribute in ${weightsRoot === f ? 'its root' : 'model_weights'}; it is not a Keras weights file`,
        { context: { file: path } },
      );
    }
    const g = normalizeModel(json, new H5WeightSource(weightsRoot, path), archFile ?? path);
    const version = g.kerasVersion ?? attrString(f, 'keras_version') ?? attrString(weightsRoot, 'keras_version');
    const backend = g.backend ?? attrString(f, 'backend') ?? attrString(weightsRoot, 'backend');
    if (version !== undefined) g.kerasVersion = version;
    if (backend !== undefined) g.backend = backend;
    return g;
  } finally {
    f.close();
  }
}

class H5WeightSource implements WeightSource {
  constructor(
    readonly root: Group,
    readonly file: string,
  ) {}

  layerWeights(path: readonly LayerPathEntry[]): { names: string[]; tensors: Tensor[] } {
    const top = path[0];
    if (top === undefined) return { names: [], tensors: [] };
    const g = child(this.root, top.name);
    if (!(g instanceof Group)) return { names: [], tensors: [] };
    let names = attrStrings(g, 'weight_names') ?? [];
    const leaf = path[path.length - 1]!.name;
    if (path.length > 1) {
      // Nested model: its group holds every inner layer's weights; pick this layer's by the path component.
      names = names.filter((n) => n.split('/').slice(0, -1).includes(leaf));
    }
    const tensors = names.map((n) => {
      const d = child(g, n);
      if (!(d instanceof Dataset)) {
        throw new McError(
          'E_FORMAT',
          `layer '${leaf}' lists weight '${n}' but '${this.file}' has no such dataset under ${g.path}; the file is incomplete`,
          { context: { file: this.file, layer: leaf } },
        );
      }
      return datasetTensor(d, this.file, `${leaf}/${n}`);
    });
    return { names, tensors };
  }
}
