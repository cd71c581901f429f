import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { File as H5File, ready } from 'h5wasm/node';
import type { KerasGraph } from '../src/index.js';
import { graphToConfig } from '../src/write-config.js';

// PROD silences tfjs' one-time console notice about tfjs-node (tests do not print).
tf.env().set('PROD', true);
await tf.setBackend('cpu');

/** The original model config as the file stores it (h5 attr, architecture JSON, TF.js modelTopology). */
export async function originalConfig(src: string | { architecture: string; weights: string }): Promise<unknown> {
  if (typeof src !== 'string') return JSON.parse(readFileSync(src.architecture, 'utf8'));
  if (src.endsWith('.json')) {
    const j = JSON.parse(readFileSync(src, 'utf8'));
    return j.modelTopology.model_config ?? j.modelTopology;
  }
  await ready;
  const f = new H5File(src, 'r');
  try {
    return JSON.parse(f.attrs.model_config!.value as string);
  } finally {
    f.close();
  }
}

/**
 * Builds the model in @tensorflow/tfjs-layers (cpu backend) from a Keras config and sets the stored weights layer by
 * layer, in Keras order: the reference forward pass.
 */
export async function tfjsModel(config: unknown, weights: KerasGraph): Promise<tf.LayersModel> {
  const model = await tf.models.modelFromJSON({ modelTopology: inferenceOnly(config) as tf.io.ModelJSON['modelTopology'] });
  const byName = new Map(weights.layers.map((l) => [l.name, l]));
  for (const layer of model.layers) {
    const src = byName.get(layer.name);
    const n = layer.weights.length;
    if (n === 0) continue;
    if (src === undefined || src.weights.length < n) throw new Error(`no stored weights for tfjs layer ${layer.name}`);
    layer.setWeights(src.weights.slice(0, n).map((t) => tf.tensor(t.data as Float32Array, [...t.dims], 'float32')));
  }
  return model;
}

/** Runs a tfjs model; outputs in model order. */
export function tfjsRun(model: tf.LayersModel, x: Float32Array, dims: number[]): Float32Array[] {
  return tf.tidy(() => {
    const y = model.predict(tf.tensor(x, dims, 'float32'));
    return (Array.isArray(y) ? y : [y]).map((t) => t.dataSync() as Float32Array);
  });
}

/** Keras 3 configs translated for tfjs-layers (which reads the Keras 2 dialect). */
export function keras2Config(g: KerasGraph): unknown {
  return graphToConfig(g, 'keras2');
}

/** Regularizers only matter for training and tfjs-layers lacks some (`L2`): drop them for the reference pass. */
function inferenceOnly(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(inferenceOnly);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  // A stale batch_input_shape on a non-input layer of a Functional model only makes tfjs print a warning.
  const stale = Array.isArray(o.inbound_nodes) && o.inbound_nodes.length > 0;
  return Object.fromEntries(
    Object.entries(o).map(([k, x]) => [
      k,
      k.endsWith('_regularizer')
        ? null
        : k === 'config' && stale && typeof x === 'object' && x !== null
          ? withoutShape(x)
          : inferenceOnly(x),
    ]),
  );
}

function withoutShape(c: object): unknown {
  const { batch_input_shape: _drop, ...rest } = c as Record<string, unknown>;
  return inferenceOnly(rest);
}
