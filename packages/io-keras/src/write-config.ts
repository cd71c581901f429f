import { isObject, type JsonValue, type KerasLayerConfigJson, type KerasLayerJson, type KerasModelJson } from './keras-format.js';
import { type KerasGraph, type KerasLayer, type KerasTensorRef, refKey } from './keras-graph.js';

/** Which config dialect to write: Keras 2 / tf.keras / TF.js (`batch_input_shape`, list inbound nodes) or Keras 3. */
export type ConfigFlavor = 'keras2' | 'keras3' | 'tfjs';

const KERAS3_ONLY = new Set(['module', 'registered_name', 'build_config', 'shared_object_id']);

/**
 * Strips Keras 3 serialization wrappers (module, registered_name, DTypePolicy objects) for Keras 2 / TF.js. TF.js
 * knows only `L1L2` among regularizers, so `L1`/`L2` are rewritten as `L1L2` there.
 */
function toKeras2Value(v: JsonValue | undefined, key?: string, tfjs = false): JsonValue | undefined {
  if (Array.isArray(v)) return v.map((x) => toKeras2Value(x, undefined, tfjs) ?? null);
  if (!isObject(v)) return v;
  if (tfjs && key?.endsWith('_regularizer') === true && (v.class_name === 'L1' || v.class_name === 'L2')) {
    const c = isObject(v.config) ? v.config : {};
    return { class_name: 'L1L2', config: { l1: Number(c.l1 ?? 0), l2: Number(c.l2 ?? 0) } };
  }
  if (key === 'dtype' && v.class_name === 'DTypePolicy' && isObject(v.config)) return v.config.name ?? 'float32';
  const out: Record<string, JsonValue> = {};
  for (const [k, x] of Object.entries(v)) {
    if (KERAS3_ONLY.has(k)) continue;
    const y = toKeras2Value(x, k, tfjs);
    if (y !== undefined) out[k] = y;
  }
  return out;
}

function layerConfig(l: KerasLayer, flavor: ConfigFlavor, first: boolean): KerasLayerConfigJson {
  const c: KerasLayerConfigJson = { ...l.config, name: l.name };
  if (flavor !== 'keras3') {
    const k2 = toKeras2Value(c as JsonValue, undefined, flavor === 'tfjs') as KerasLayerConfigJson;
    if (k2.batch_shape !== undefined) {
      k2.batch_input_shape = k2.batch_shape;
      delete k2.batch_shape;
    }
    for (const k of ['optional', 'ragged'] as const) if (l.className === 'InputLayer') delete k2[k];
    if (!first && l.className !== 'InputLayer') delete k2.batch_input_shape;
    return k2;
  }
  if (c.batch_input_shape !== undefined && l.className === 'InputLayer') {
    c.batch_shape = c.batch_input_shape;
    delete c.batch_input_shape;
  }
  if (l.className !== 'InputLayer') delete c.batch_input_shape;
  return c;
}

/** Keras (channels-last) shapes of layer outputs by `refKey`, which Keras 3 writes into every tensor reference. */
export type ShapeMap = ReadonlyMap<string, (number | null)[]>;

function k3Tensor(r: KerasTensorRef, shapes: ShapeMap | undefined): JsonValue {
  const shape = shapes?.get(refKey(r)) ?? null;
  return { class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [r.layer, r.node, r.tensor] } };
}

function layerEntry(l: KerasLayer, flavor: ConfigFlavor, functional: boolean, first: boolean, shapes?: ShapeMap): KerasLayerJson {
  const e: KerasLayerJson = { class_name: l.className, config: layerConfig(l, flavor, first) };
  if (flavor === 'keras3') {
    e.module = l.module ?? 'keras.layers';
    e.registered_name = l.registeredName ?? null;
  }
  if (functional) {
    e.name = l.name;
    e.inbound_nodes =
      flavor !== 'keras3'
        ? l.calls.map((c) => c.inputs.map((r) => [r.layer, r.node, r.tensor, {}] as [string, number, number, Record<string, JsonValue>]))
        : l.calls.map((c) => ({
            args: c.inputs.length === 1 ? [k3Tensor(c.inputs[0]!, shapes)] : [c.inputs.map((r) => k3Tensor(r, shapes))],
            kwargs: {},
          }));
  }
  return e;
}

/** True when the graph is one chain from one input to one output, so it can be written as a Sequential model. */
function isChain(g: KerasGraph): boolean {
  if (g.inputs.length !== 1 || g.outputs.length !== 1) return false;
  let prev = g.inputs[0]!.layer;
  for (const l of g.layers) {
    if (l.className === 'InputLayer') continue;
    if (l.calls.length !== 1 || l.calls[0]!.inputs.length !== 1 || l.calls[0]!.inputs[0]!.layer !== prev) return false;
    prev = l.name;
  }
  return g.outputs[0]!.layer === prev;
}

/**
 * Serializes a Keras graph as a model config: Sequential when the original was Sequential and is still a chain,
 * Functional otherwise (factorised layers keep a chain, so a Sequential stays Sequential).
 *
 * @example
 * ```ts
 * const json = graphToConfig(graph, 'keras2'); // h5 model_config / TF.js modelTopology.model_config
 * ```
 */
export function graphToConfig(g: KerasGraph, flavor: ConfigFlavor, shapes?: ShapeMap): KerasModelJson {
  const refs = (rs: KerasTensorRef[]): [string, number, number][] => rs.map((r) => [r.layer, r.node, r.tensor]);
  if (g.className === 'Sequential' && isChain(g)) {
    const input = g.layers.find((l) => l.name === g.inputs[0]!.layer)!;
    const rest = g.layers.filter((l) => l.className !== 'InputLayer');
    if (flavor !== 'keras3') {
      // Keras 2 Sequential: the first layer carries batch_input_shape; an explicit InputLayer entry is kept only when
      // its name is not the one Keras would make up (`<first>_input`), so the model input keeps its name.
      const keepInput = rest[0] === undefined || input.name !== `${rest[0].name}_input`;
      const layers = [...(keepInput ? [input] : []), ...rest].map((l, i) => layerEntry(l, flavor, false, i === 0));
      const shape = input.config.batch_input_shape ?? input.config.batch_shape;
      if (layers[0] !== undefined && !keepInput) {
        if (shape !== undefined) layers[0].config.batch_input_shape = shape;
        layers[0].config.dtype = typeof input.config.dtype === 'string' ? input.config.dtype : 'float32';
      }
      return { class_name: 'Sequential', config: { name: g.name, layers } };
    }
    const layers = [input, ...rest].map((l) => layerEntry(l, flavor, false, false));
    return {
      module: 'keras',
      class_name: 'Sequential',
      config: { name: g.name, trainable: true, dtype: 'float32', layers },
      registered_name: null,
    };
  }
  const layers = g.layers.map((l) => layerEntry(l, flavor, true, false, shapes));
  const config = { name: g.name, layers, input_layers: refs(g.inputs), output_layers: refs(g.outputs) };
  if (flavor !== 'keras3') return { class_name: 'Model', config };
  return {
    module: 'keras.src.models.functional',
    class_name: 'Functional',
    config: { ...config, trainable: true },
    registered_name: 'Functional',
  };
}
