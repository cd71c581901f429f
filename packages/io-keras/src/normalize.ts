import { McError, type Tensor } from '@mc/ir';
import { isObject, type JsonValue, type KerasLayerJson, type KerasModelInnerConfigJson, type KerasModelJson } from './keras-format.js';
import { refKey, type KerasCall, type KerasGraph, type KerasLayer, type KerasTensorRef } from './keras-graph.js';

/** Where a layer sits: the chain of enclosing models (outermost first), each with its siblings for positional naming. */
export interface LayerPathEntry {
  name: string;
  className: string;
  /** All layers of the container this entry is in (for Keras 3 `.keras` group names, which count by class). */
  siblings: readonly KerasLayerJson[];
  index: number;
}

/** Supplies a layer's stored weights; each file format implements it. */
export interface WeightSource {
  layerWeights(path: readonly LayerPathEntry[]): { names: string[]; tensors: Tensor[] };
}

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/** True when a layer entry is itself a model (nested). @internal */
export function isModelClass(className: string): boolean {
  return MODEL_CLASSES.has(className);
}

/**
 * Turns a Keras model config of any vintage into a `KerasGraph` with weights attached. Nested models are inlined
 * (their layers join the outer graph; a name that collides gets the model name as a prefix).
 *
 * @example
 * ```ts
 * const g = normalizeModel(JSON.parse(modelConfig), source, 'model.h5');
 * ```
 */
export function normalizeModel(json: KerasModelJson, weights: WeightSource, file: string): KerasGraph {
  if (!isObject(json) || typeof json.class_name !== 'string' || json.config === undefined) {
    throw new McError(
      'E_FORMAT',
      `the model config is not a Keras model (no class_name/config); pass the JSON written by model.to_json() (file ${file})`,
      { context: { file } },
    );
  }
  if (!isModelClass(json.class_name)) {
    throw new McError(
      'E_UNSUPPORTED',
      `the top-level object is a '${json.class_name}', not a Sequential/Functional model; wrap it in a model before saving (file ${file})`,
      { context: { file } },
    );
  }
  const ctx: Ctx = { file, weights, layers: [], names: new Set(), alias: new Map() };
  const { inputs, outputs, name } = inlineModel(ctx, json, [], undefined, '');
  const resolve = (r: KerasTensorRef): KerasTensorRef => {
    let cur = r;
    for (let i = 0; i < 64; i++) {
      const next = ctx.alias.get(refKey(cur));
      if (next === undefined) return cur;
      cur = next;
    }
    throw new McError('E_FORMAT', `layer references loop at '${r.layer}' (file ${file})`, { context: { file, layer: r.layer } });
  };
  for (const l of ctx.layers) for (const c of l.calls) c.inputs = c.inputs.map(resolve);
  const graph: KerasGraph = {
    name,
    layers: ctx.layers,
    inputs: inputs.map(resolve),
    outputs: outputs.map(resolve),
    className: json.class_name === 'Sequential' ? 'Sequential' : 'Functional',
  };
  if (typeof json.keras_version === 'string') graph.kerasVersion = json.keras_version;
  if (typeof json.backend === 'string') graph.backend = json.backend;
  checkRefs(graph, file);
  return graph;
}

interface Ctx {
  file: string;
  weights: WeightSource;
  layers: KerasLayer[];
  names: Set<string>;
  alias: Map<string, KerasTensorRef>;
}

interface Inlined {
  name: string;
  inputs: KerasTensorRef[];
  outputs: KerasTensorRef[];
}

function inlineModel(
  ctx: Ctx,
  json: KerasModelJson | KerasLayerJson,
  path: LayerPathEntry[],
  callInputs: KerasTensorRef[] | undefined,
  prefix: string,
): Inlined {
  const cfg = json.config as KerasLayerJson[] | KerasModelInnerConfigJson;
  const list = Array.isArray(cfg) ? cfg : cfg.layers;
  if (!Array.isArray(list))
    throw new McError('E_FORMAT', `model '${String((cfg as { name?: unknown }).name)}' has no layers list (file ${ctx.file})`, {
      context: { file: ctx.file },
    });
  const modelName =
    (!Array.isArray(cfg) && typeof cfg.name === 'string' ? cfg.name : undefined) ??
    (typeof json.config === 'object' && 'name' in json && typeof json.name === 'string' ? json.name : 'model');
  const rename = new Map<string, string>();
  const local = (n: string): string => rename.get(n) ?? n;
  const claim = (n: string): string => {
    let out = ctx.names.has(n) ? `${prefix || modelName + '_'}${n}` : n;
    for (let i = 1; ctx.names.has(out); i++) out = `${n}_${i}`;
    ctx.names.add(out);
    rename.set(n, out);
    return out;
  };
  if (json.class_name === 'Sequential')
    return inlineSequential(ctx, list, Array.isArray(cfg) ? undefined : cfg, path, callInputs, modelName, claim);

  // Functional: explicit inbound nodes.
  const inputRefs = refList(!Array.isArray(cfg) ? cfg.input_layers : undefined);
  const outputRefs = refList(!Array.isArray(cfg) ? cfg.output_layers : undefined);
  const entries = list.map((l, index) => ({ l, index, name: layerName(l) }));
  for (const { l, index, name } of entries) {
    const here: LayerPathEntry[] = [...path, { name, className: l.class_name, siblings: list, index }];
    if (isModelClass(l.class_name)) {
      const calls = parseInbound(l, ctx.file);
      if (calls.length > 1)
        throw new McError(
          'E_UNSUPPORTED',
          `nested model '${name}' is called ${calls.length} times; only single-use nested models are supported (file ${ctx.file})`,
          { context: { file: ctx.file, layer: name } },
        );
      const outer = (calls[0]?.inputs ?? []).map((r) => ({ ...r, layer: local(r.layer) }));
      const inner = inlineModel(ctx, l, here, outer, `${name}_`);
      // A nested model built with an input shape has its own node 0, so the outer call may be node 1: map both.
      for (let node = 0; node < 4; node++) inner.outputs.forEach((o, t) => ctx.alias.set(refKey({ layer: name, node, tensor: t }), o));
      rename.set(name, name);
      continue;
    }
    const newName = claim(name);
    const calls = parseInbound(l, ctx.file).map((c) => ({ ...c, inputs: c.inputs.map((r) => ({ ...r, layer: local(r.layer) })) }));
    if (l.class_name === 'InputLayer' && callInputs !== undefined) {
      // The nested model's input stands for the outer call's argument at the same position.
      const pos = inputRefs.findIndex((r) => r.layer === name);
      const outer = callInputs[pos >= 0 ? pos : 0];
      if (outer !== undefined) ctx.alias.set(refKey({ layer: newName, node: 0, tensor: 0 }), outer);
      continue;
    }
    pushLayer(ctx, l, newName, l.class_name === 'InputLayer' ? [] : calls, here);
  }
  return {
    name: modelName,
    inputs: inputRefs.map((r) => ({ ...r, layer: local(r.layer) })),
    outputs: outputRefs.map((r) => ({ ...r, layer: local(r.layer) })),
  };
}

function inlineSequential(
  ctx: Ctx,
  list: KerasLayerJson[],
  cfg: KerasModelInnerConfigJson | undefined,
  path: LayerPathEntry[],
  callInputs: KerasTensorRef[] | undefined,
  modelName: string,
  claim: (n: string) => string,
): Inlined {
  let prev: KerasTensorRef | undefined = callInputs?.[0];
  const inputs: KerasTensorRef[] = [];
  list.forEach((l, index) => {
    const name = layerName(l);
    const here: LayerPathEntry[] = [...path, { name, className: l.class_name, siblings: list, index }];
    if (prev === undefined) {
      // First layer: an explicit InputLayer, or one made from the first layer's batch shape (Keras names it `<first>_input`).
      const shape = l.config.batch_input_shape ?? l.config.batch_shape ?? (cfg?.build_input_shape as (number | null)[] | undefined);
      if (l.class_name === 'InputLayer') {
        const n = claim(name);
        pushLayer(ctx, l, n, [], here);
        prev = { layer: n, node: 0, tensor: 0 };
        inputs.push(prev);
        return;
      }
      if (!Array.isArray(shape)) {
        throw new McError(
          'E_FORMAT',
          `Sequential model '${modelName}' has no input shape (first layer '${name}' lacks batch_input_shape); build the model before saving (file ${ctx.file})`,
          { context: { file: ctx.file, layer: name } },
        );
      }
      const inName = claim(`${name}_input`);
      const dtype = l.config.dtype ?? 'float32';
      pushLayer(
        ctx,
        {
          class_name: 'InputLayer',
          config: { name: inName, batch_input_shape: shape, dtype: typeof dtype === 'string' ? dtype : 'float32' },
        },
        inName,
        [],
        [],
      );
      prev = { layer: inName, node: 0, tensor: 0 };
      inputs.push(prev);
    }
    if (l.class_name === 'InputLayer') {
      if (callInputs === undefined)
        throw new McError('E_FORMAT', `Sequential model '${modelName}' has an InputLayer '${name}' after other layers (file ${ctx.file})`, {
          context: { file: ctx.file, layer: name },
        });
      return; // nested Sequential: its input is the outer argument
    }
    const input: KerasTensorRef = prev;
    if (isModelClass(l.class_name)) {
      const inner = inlineModel(ctx, l, here, [input], `${name}_`);
      prev = inner.outputs[0];
      return;
    }
    const n = claim(name);
    pushLayer(ctx, l, n, [{ inputs: [input], kwargs: {} }], here);
    prev = { layer: n, node: 0, tensor: 0 };
  });
  if (prev === undefined)
    throw new McError('E_FORMAT', `Sequential model '${modelName}' has no layers (file ${ctx.file})`, { context: { file: ctx.file } });
  return { name: modelName, inputs, outputs: [prev] };
}

function pushLayer(ctx: Ctx, l: KerasLayerJson, name: string, calls: KerasCall[], path: LayerPathEntry[]): void {
  const w = path.length > 0 ? ctx.weights.layerWeights(path) : { names: [], tensors: [] };
  const layer: KerasLayer = {
    className: l.class_name,
    name,
    config: { ...l.config, name },
    calls,
    weights: w.tensors,
    weightNames: w.names,
  };
  if (typeof l.module === 'string') layer.module = l.module;
  if (l.registered_name !== undefined) layer.registeredName = l.registered_name;
  ctx.layers.push(layer);
}

/** A layer's name: the entry's `name`, else its config's. @internal */
export function layerName(l: KerasLayerJson): string {
  const n = l.name ?? l.config?.name;
  if (typeof n !== 'string')
    throw new McError('E_FORMAT', `a '${l.class_name}' layer has no name in its config`, { context: { opType: l.class_name } });
  return n;
}

function refList(v: unknown): KerasTensorRef[] {
  if (!Array.isArray(v)) return [];
  if (v.length === 3 && typeof v[0] === 'string') return [{ layer: v[0], node: Number(v[1]), tensor: Number(v[2]) }];
  return v.map((r: unknown) => {
    const a = r as [string, number, number];
    return { layer: a[0], node: Number(a[1]), tensor: Number(a[2]) };
  });
}

/** Parses `inbound_nodes` of either vintage into calls. @internal */
export function parseInbound(l: KerasLayerJson, file: string): KerasCall[] {
  const nodes = l.inbound_nodes ?? [];
  return nodes.map((n) => {
    if (Array.isArray(n)) {
      // Keras 2 / TF.js: [[layer, node, tensor, kwargs], ...]
      const kwargs = (n[0]?.[3] ?? {}) as Record<string, JsonValue>;
      return { inputs: n.map((r) => ({ layer: r[0], node: Number(r[1]), tensor: Number(r[2]) })), kwargs };
    }
    if (isObject(n) && Array.isArray(n.args)) {
      const inputs: KerasTensorRef[] = [];
      collectTensors(n.args, inputs);
      const kwargs: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(n.kwargs ?? {})) {
        const t: KerasTensorRef[] = [];
        collectTensors(v, t);
        if (t.length === 0) kwargs[k] = v;
      }
      return { inputs, kwargs };
    }
    throw new McError('E_FORMAT', `layer '${layerName(l)}' has an inbound node of unknown shape (file ${file})`, {
      context: { file, layer: layerName(l) },
    });
  });
}

function collectTensors(v: JsonValue | undefined, out: KerasTensorRef[]): void {
  if (Array.isArray(v)) {
    for (const x of v) collectTensors(x, out);
  } else if (isObject(v)) {
    const h = isObject(v.config) ? v.config.keras_history : undefined;
    if (v.class_name === '__keras_tensor__' && Array.isArray(h)) {
      out.push({ layer: String(h[0]), node: Number(h[1]), tensor: Number(h[2]) });
    } else {
      for (const x of Object.values(v)) collectTensors(x, out);
    }
  }
}

function checkRefs(g: KerasGraph, file: string): void {
  const known = new Set(g.layers.map((l) => l.name));
  const check = (r: KerasTensorRef, where: string): void => {
    if (g.layers.length === 0) return;
    if (!known.has(r.layer))
      throw new McError('E_FORMAT', `${where} refers to layer '${r.layer}', which the model does not define (file ${file})`, {
        context: { file, layer: r.layer },
      });
  };
  for (const r of g.inputs) check(r, 'input_layers');
  for (const r of g.outputs) check(r, 'output_layers');
  for (const l of g.layers) for (const c of l.calls) for (const r of c.inputs) check(r, `layer '${l.name}'`);
  if (g.outputs.length === 0) throw new McError('E_FORMAT', `the model has no outputs (file ${file})`, { context: { file } });
}
