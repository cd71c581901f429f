import { type DType, Graph, isDType, McError, Model, Node, Value } from '@mc/ir';
import { refKey, type KerasGraph, type KerasLayer } from './keras-graph.js';
import { LAYERS, opaque } from './layers/index.js';
import { KERAS_DOMAIN, KERAS_LAYER_KEY, type KVal, LowerContext } from './lower-context.js';

/**
 * A layer kept as an opaque `mc.keras` node because mc has no mapping for its class.
 *
 * @example
 * ```ts
 * const { passedThrough } = await readKeras('qkeras.keras'); // [{layer: 'fc1', className: 'QDense', reason}]
 * ```
 */
export interface PassedThroughLayer {
  layer: string;
  className: string;
  reason: string;
}

/**
 * The metadata key on the model holding the Keras model header (class, name, version, backend, source format).
 *
 * @example
 * ```ts
 * JSON.parse(model.metadataProps.get(KERAS_MODEL_KEY)!).keras_version; // '2.4.0'
 * ```
 */
export const KERAS_MODEL_KEY = 'keras.model';

/**
 * ONNX opset the importer emits (LayerNormalization needs 17; ReduceMean still takes `axes` as an attribute).
 *
 * @example
 * ```ts
 * model.opset(''); // KERAS_OPSET for an imported Keras model
 * ```
 */
export const KERAS_OPSET = 17;

/**
 * Lowers a normalized Keras graph to the IR: one Keras tensor = one IR value, every node tagged with its layer.
 * @internal
 */
export function kerasToIr(
  g: KerasGraph,
  file: string,
  format: string,
): { model: Model; passedThrough: PassedThroughLayer[]; shapes: Map<string, (number | null)[]> } {
  const graph = new Graph(g.name);
  const model = new Model({
    graph,
    irVersion: 8,
    opsetImports: { '': KERAS_OPSET },
    producerName: 'mc-io-keras',
    producerVersion: '0.1.0',
  });
  const caches = { transposes: new Map<Value, Value>(), weights: new Map(), keras3: (g.kerasVersion ?? '').startsWith('3') };
  const values = new Map<string, KVal>();
  const passedThrough: PassedThroughLayer[] = [];
  const byName = new Map(g.layers.map((l) => [l.name, l]));

  for (const ref of g.inputs) {
    const l = byName.get(ref.layer);
    if (l === undefined || l.className !== 'InputLayer') {
      throw new McError('E_FORMAT', `model input '${ref.layer}' is not an InputLayer (file ${file})`, {
        context: { file, layer: ref.layer },
      });
    }
    values.set(refKey(ref), makeInput(graph, l, file));
  }

  // Layers in dependency order (shared layers may be called after layers listed later).
  const pending: { layer: KerasLayer; call: number }[] = [];
  for (const l of g.layers) {
    if (l.className === 'InputLayer') continue;
    l.calls.forEach((_, call) => pending.push({ layer: l, call }));
  }
  while (pending.length > 0) {
    const i = pending.findIndex(({ layer, call }) => layer.calls[call]!.inputs.every((r) => values.has(refKey(r))));
    if (i < 0) {
      const { layer } = pending[0]!;
      const missing = layer.calls[0]!.inputs.find((r) => !values.has(refKey(r)));
      throw new McError(
        'E_FORMAT',
        `layer '${layer.name}' needs '${missing?.layer}' which is never computed (a dangling or cyclic connection) (file ${file})`,
        { context: { file, layer: layer.name } },
      );
    }
    const { layer, call } = pending.splice(i, 1)[0]!;
    const inputs = layer.calls[call]!.inputs.map((r) => values.get(refKey(r))!);
    let handler = LAYERS.get(layer.className);
    if (handler === undefined || (layer.registeredName !== undefined && layer.registeredName !== null)) {
      handler = opaque;
      if (call === 0)
        passedThrough.push({
          layer: layer.name,
          className: layer.className,
          reason: `no ONNX mapping for Keras class '${layer.className}'${layer.module !== undefined ? ` (module ${layer.module})` : ''}; kept as an opaque ${KERAS_DOMAIN} node`,
        });
    }
    const ctx = new LowerContext(graph, layer, call, inputs, file, caches);
    const outs = handler.toIr(ctx);
    outs.forEach((o, t) => values.set(refKey({ layer: layer.name, node: call, tensor: t }), o));
  }
  if (passedThrough.length > 0) model.opsetImports.set(KERAS_DOMAIN, 1);

  const used = new Set<Value>();
  for (const ref of g.outputs) {
    const k = values.get(refKey(ref));
    if (k === undefined)
      throw new McError('E_FORMAT', `model output '${ref.layer}' is never computed (file ${file})`, {
        context: { file, layer: ref.layer },
      });
    let v = k.layout === 'cf' && k.shape.length >= 3 ? transposeOut(graph, k) : k.value;
    if (v.isGraphInput() || used.has(v) || v.isInitializer()) {
      const n = new Node({
        opType: 'Identity',
        name: graph.uniqueName(`${ref.layer}/output`),
        inputs: [v],
        outputs: [graph.uniqueName(`${ref.layer}_out`)],
      });
      graph.append(n);
      v = n.outputs[0]!;
    }
    used.add(v);
    const name = graph.uniqueName(ref.layer);
    if (v.name !== ref.layer) v.name = name;
    v.dtype = 'float32';
    v.shape = k.shape.map((d, i) => (i === 0 && d === null ? 'batch' : d));
    graph.addOutput(v);
  }
  model.metadataProps.set(
    KERAS_MODEL_KEY,
    JSON.stringify({ class_name: g.className, name: g.name, keras_version: g.kerasVersion ?? null, backend: g.backend ?? null, format }),
  );
  const shapes = new Map([...values].map(([k, v]) => [k, v.shape]));
  return { model, passedThrough, shapes };
}

function makeInput(graph: Graph, l: KerasLayer, file: string): KVal {
  const shape = (l.config.batch_input_shape ?? l.config.batch_shape) as (number | null)[] | undefined;
  if (!Array.isArray(shape))
    throw new McError('E_FORMAT', `InputLayer '${l.name}' has no batch_input_shape/batch_shape (file ${file})`, {
      context: { file, layer: l.name },
    });
  const raw = l.config.dtype;
  const dt = typeof raw === 'string' ? raw : 'float32';
  const dtype: DType = isDType(dt) ? dt : 'float32';
  const v = new Value(l.name, { dtype, shape: shape.map((d, i) => (d === null ? (i === 0 ? 'batch' : null) : d)) });
  // The InputLayer's own config rides on the graph input, so writing back restores it verbatim.
  const tag: Record<string, unknown> = { name: l.name, class_name: 'InputLayer', config: l.config };
  if (l.module !== undefined) tag.module = l.module;
  if (l.registeredName !== undefined) tag.registered_name = l.registeredName;
  v.metadataProps.set(KERAS_LAYER_KEY, JSON.stringify(tag));
  graph.addInput(v);
  return { value: v, layout: 'native', shape: [...shape] };
}

function transposeOut(graph: Graph, k: KVal): Value {
  const r = k.shape.length;
  const n = new Node({
    opType: 'Transpose',
    name: graph.uniqueName(`${k.value.name}_to_native`),
    inputs: [k.value],
    outputs: [graph.uniqueName(`${k.value.name}_native`)],
    attributes: [['perm', { type: 'INTS', value: [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1].map(BigInt) }]],
  });
  n.metadataProps.set('keras.layout', 'to_channels_last');
  graph.append(n);
  return n.outputs[0]!;
}
