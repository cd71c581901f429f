import { McError, type Model, type Node, type Tensor, type Value, slotOf } from '@mc/ir';
import { evalConstant } from './const-eval.js';
import { isObject, type JsonValue, type KerasLayerConfigJson } from './keras-format.js';
import type { KerasGraph, KerasLayer, KerasTensorRef } from './keras-graph.js';
import { LAYERS, opaque } from './layers/index.js';
import type { FromIrContext, LayerGroup } from './layers/types.js';
import { KERAS_DOMAIN, KERAS_LAYER_KEY, KERAS_LAYOUT_KEY } from './lower-context.js';
import { KERAS_MODEL_KEY } from './to-ir.js';
import { foreignToKeras } from './from-onnx.js';

/** Node metadata a low-rank transform leaves on the nodes it made: the name of the node they replace. */
const LINEAGE_KEY = 'mc.lowrank.of';

/**
 * The constant behind a value: an initializer, or a constant-only subgraph (DequantizeLinear, codebook decoding, Cast)
 * evaluated; quantized and clustered weights are thereby stored dequantized (Keras has no int8 storage).
 * @internal
 */
export function constantOf(v: Value | undefined): Tensor | undefined {
  return evalConstant(v);
}

interface Tag {
  name: string;
  class_name: string;
  config: KerasLayerConfigJson;
  node_index?: number;
  module?: string;
  registered_name?: string | null;
}

function tagOf(n: Node): Tag | undefined {
  const s = n.metadataProps.get(KERAS_LAYER_KEY);
  if (s === undefined) return undefined;
  try {
    const t = JSON.parse(s) as Tag;
    return isObject(t) && typeof t.name === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Regroups an IR model into Keras layers using the `keras.layer` tags: nodes with the same tag form one layer call.
 * Untagged nodes a transform inserted (factor MatMuls, Tucker convs, QDQ pairs) join the group they feed or are fed
 * by; constant-only chains (DequantizeLinear of weights) fold into dequantized float32 weights.
 * @internal
 */
export function irToKeras(model: Model, file: string): KerasGraph {
  const g = model.graph;
  // A model from another exporter (no Keras header, no layer tags) is written op by op as a chain of standard layers.
  if (!model.metadataProps.has(KERAS_MODEL_KEY) && g.nodes.every((n) => !n.metadataProps.has(KERAS_LAYER_KEY))) {
    return foreignToKeras(model, file, constantOf);
  }
  const header = parseHeader(model.metadataProps.get(KERAS_MODEL_KEY));
  const refs = new Map<Value, KerasTensorRef>();
  const layers: KerasLayer[] = [];
  const byName = new Map<string, KerasLayer>();
  const keras3 = String(header.keras_version ?? '').startsWith('3');
  const ctx: FromIrContext = {
    constant: constantOf,
    error: (layer, what) => new McError('E_UNSUPPORTED', `layer '${layer}' ${what} (writing ${file})`, { context: { file, layer } }),
    keras3,
  };

  const inputs: KerasTensorRef[] = [];
  for (const v of g.inputs) {
    if (v.isInitializer()) continue;
    const shape = (v.shape ?? []).map((d) => (typeof d === 'number' ? d : null));
    const layer: KerasLayer = {
      className: 'InputLayer',
      name: v.name,
      config: { batch_input_shape: shape, dtype: v.dtype ?? 'float32', sparse: false, name: v.name },
      calls: [],
      weights: [],
      weightNames: [],
    };
    const tag = parseHeader(v.metadataProps.get(KERAS_LAYER_KEY));
    if (tag.class_name === 'InputLayer' && isObject(tag.config)) {
      layer.config = { ...(tag.config as KerasLayerConfigJson), name: v.name };
      if (typeof tag.module === 'string') layer.module = tag.module;
      if (tag.registered_name !== undefined) layer.registeredName = tag.registered_name as string | null;
    }
    layers.push(layer);
    byName.set(v.name, layer);
    const r = { layer: v.name, node: 0, tensor: 0 };
    refs.set(v, r);
    inputs.push(r);
  }

  // Assign every node to a group key.
  const keyOf = new Map<Node, string>();
  const tags = new Map<string, Tag>();
  for (const n of g.nodes) {
    const t = tagOf(n);
    if (t !== undefined) {
      const key = `${t.name}#${t.node_index ?? 0}`;
      keyOf.set(n, key);
      if (!tags.has(key)) tags.set(key, t);
    }
  }
  const isConstNode = (n: Node): boolean =>
    n.inputs.length > 0 && n.outputs.every((o) => !o.isGraphOutput() && constantOf(o) !== undefined);
  const isLayout = (n: Node): boolean =>
    n.metadataProps.has(KERAS_LAYOUT_KEY) ||
    (n.opType === 'Identity' && tagOf(n) === undefined && n.outputs.some((o) => o.isGraphOutput()));
  // A transform that replaced a layer's node records the node it replaced (`mc.lowrank.of`): the chain belongs to the
  // layer named in that node's name (`<layer>[_callN]/<Op>`); when none of the layer's nodes is left, the layer is
  // rebuilt from the ops alone (Conv → Conv2D, MatMul/Gemm → Dense).
  const byLayer = new Map<string, string>();
  for (const [key, t] of tags) byLayer.set(`${t.name}#${t.node_index ?? 0}`, key);
  for (const n of g.nodes) {
    if (keyOf.has(n)) continue;
    const of = n.metadataProps.get(LINEAGE_KEY);
    if (of === undefined || !of.includes('/')) continue;
    const base = of.slice(0, of.lastIndexOf('/'));
    const m = /^(.*)_call(\d+)$/.exec(base);
    const key = m === null ? `${base}#0` : `${m[1]}#${m[2]}`;
    const cls =
      n.opType === 'Conv'
        ? 'Conv2D'
        : n.opType === 'ConvTranspose'
          ? 'Conv2DTranspose'
          : n.opType === 'MatMul' || n.opType === 'Gemm'
            ? 'Dense'
            : undefined;
    if (!byLayer.has(key)) {
      if (cls === undefined) continue;
      const name = key.slice(0, key.lastIndexOf('#'));
      tags.set(key, { name, class_name: cls, config: { name, activation: 'linear' } });
      byLayer.set(key, key);
    }
    keyOf.set(n, byLayer.get(key)!);
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of g.nodes) {
      if (keyOf.has(n) || isLayout(n) || isConstNode(n)) continue;
      const consumers = new Set(n.outputs.flatMap((o) => o.uses().map((u) => keyOf.get(u.node))));
      const producers = new Set(
        n.inputs.map((v) => (v?.producer() === undefined ? undefined : keyOf.get(v.producer()!))).filter((k) => k !== undefined),
      );
      const key =
        consumers.size === 1 && [...consumers][0] !== undefined ? [...consumers][0] : producers.size === 1 ? [...producers][0] : undefined;
      if (key !== undefined) {
        keyOf.set(n, key);
        changed = true;
      }
    }
  }

  const groups = new Map<string, Node[]>();
  for (const n of g.nodes) {
    const k = keyOf.get(n);
    if (k !== undefined) groups.set(k, [...(groups.get(k) ?? []), n]);
    else if (!isLayout(n) && !isConstNode(n)) {
      const untagged = keyOf.size === 0 && model.metadataProps.has(KERAS_MODEL_KEY);
      const why = untagged
        ? 'the model came from Keras but its layer tags were removed (@mc/quantize drops them unless keepMetadata: true / mc quantize --keep-metadata); quantize with them kept, or export it as ONNX'
        : 'the model was not imported from Keras or a transform added an op Keras cannot express; export it as ONNX instead';
      throw new McError('E_UNSUPPORTED', `node '${n.name}' (${n.opType}) belongs to no Keras layer: ${why} (writing ${file})`, {
        context: { file, node: n.name, opType: n.opType },
      });
    }
  }

  const resolve = (v: Value): KerasTensorRef | undefined => {
    for (let cur: Value | undefined = v; cur !== undefined; ) {
      const r = refs.get(cur);
      if (r !== undefined) return r;
      const p = cur.producer();
      if (p === undefined || !isLayout(p)) return undefined;
      cur = slotOf(p, 'input');
    }
    return undefined;
  };

  // Groups in order of their first node (the node list is topologically sorted).
  for (const [key, nodes] of groups) {
    const tag = tags.get(key)!;
    const set = new Set(nodes);
    const extIn: Value[] = [];
    for (const n of nodes) {
      for (const v of n.inputs) {
        if (v === undefined || constantOf(v) !== undefined || extIn.includes(v)) continue;
        const p = v.producer();
        if (p !== undefined && set.has(p)) continue;
        extIn.push(v);
      }
    }
    const outs = nodes.flatMap((n) => n.outputs).filter((o) => o.isGraphOutput() || o.uses().some((u) => !set.has(u.node)));
    const group: LayerGroup = { name: tag.name, className: tag.class_name, config: tag.config, nodes };
    if (tag.module !== undefined) group.module = tag.module;
    if (tag.registered_name !== undefined) group.registeredName = tag.registered_name;
    const opaqueGroup = nodes.some((n) => n.domain === KERAS_DOMAIN);
    const handler = opaqueGroup ? opaque : LAYERS.get(tag.class_name);
    const produced = handler?.fromIr?.(group, ctx);
    if (produced === undefined) {
      throw new McError(
        'E_UNSUPPORTED',
        `layer '${tag.name}' (${tag.class_name}) became ${nodes.map((n) => n.opType).join(' → ')}, which mc cannot write as standard Keras layers; export it as ONNX instead (writing ${file})`,
        { context: { file, layer: tag.name, opType: tag.class_name } },
      );
    }
    let prevInputs = extIn.map((v) => {
      const r = resolve(v);
      if (r === undefined)
        throw new McError('E_INVARIANT', `layer '${tag.name}' input '${v.name}' has no Keras tensor`, {
          context: { file, layer: tag.name },
        });
      return r;
    });
    let last: KerasTensorRef | undefined;
    for (const out of produced) {
      let layer = byName.get(out.name);
      if (layer === undefined) {
        layer = {
          className: out.className,
          name: out.name,
          config: { ...out.config, name: out.name },
          calls: [],
          weights: out.weights.map((w) => w.tensor),
          weightNames: out.weights.map((w) => w.name),
        };
        if (out.module !== undefined) layer.module = out.module;
        if (out.registeredName !== undefined) layer.registeredName = out.registeredName;
        layers.push(layer);
        byName.set(out.name, layer);
      }
      layer.calls.push({ inputs: prevInputs, kwargs: {} });
      last = { layer: layer.name, node: layer.calls.length - 1, tensor: 0 };
      prevInputs = [last];
    }
    for (const o of outs) refs.set(o, last!);
  }

  const outputs = g.outputs.map((v) => {
    const r = resolve(v);
    if (r === undefined)
      throw new McError('E_UNSUPPORTED', `graph output '${v.name}' comes from no Keras layer (writing ${file})`, {
        context: { file, node: v.name },
      });
    return r;
  });
  const out: KerasGraph = {
    name: typeof header.name === 'string' ? header.name : g.name || 'model',
    layers,
    inputs,
    outputs,
    className: header.class_name === 'Sequential' ? 'Sequential' : 'Functional',
  };
  if (typeof header.keras_version === 'string') out.kerasVersion = header.keras_version;
  if (typeof header.backend === 'string') out.backend = header.backend;
  return out;
}

function parseHeader(s: string | undefined): Record<string, JsonValue> {
  if (s === undefined) return {};
  try {
    const v = JSON.parse(s) as unknown;
    return isObject(v) ? v : {};
  } catch {
    return {};
  }
}
