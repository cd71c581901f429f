import { type Attribute, attr, type Graph, McError, type McErrorCode, Node, Tensor, type Value } from '@mc/ir';
import type { KerasLayer } from './keras-graph.js';

/**
 * Where channels sit in an IR value. `native` is Keras' own order (channels last: N,H,W,C); `cf` is ONNX's channels
 * first (N,C,H,W) that Conv/Pool/BatchNormalization use. Values flow in whatever layout their producer gave them and
 * a Transpose is inserted only where a consumer needs the other layout (once per value), so a conv stack pays one
 * Transpose at its input and one before Flatten.
 */
export type Layout = 'native' | 'cf';

/** A Keras tensor in the IR: the value, its layout, and its Keras (native-order) shape with the batch dim first. */
export interface KVal {
  value: Value;
  layout: Layout;
  shape: (number | null)[];
}

/** Attribute shortcuts accepted by `ctx.node`. */
export type AttrInput = number | string | readonly number[] | Attribute;

/**
 * The metadata key tagging IR nodes with the Keras layer they came from (JSON `{name, class_name, config, ...}`).
 *
 * @example
 * ```ts
 * JSON.parse(node.metadataProps.get(KERAS_LAYER_KEY)!).class_name; // 'Conv2D'
 * ```
 */
export const KERAS_LAYER_KEY = 'keras.layer';
/**
 * The metadata key on layout Transposes inserted by the importer (they vanish when writing back).
 *
 * @example
 * ```ts
 * const layoutOnly = model.graph.nodes.filter((n) => n.metadataProps.has(KERAS_LAYOUT_KEY));
 * ```
 */
export const KERAS_LAYOUT_KEY = 'keras.layout';
/**
 * The ONNX domain of opaque (unmapped) Keras layers.
 *
 * @example
 * ```ts
 * const custom = model.graph.nodes.filter((n) => n.domain === KERAS_DOMAIN); // e.g. QKeras QDense
 * ```
 */
export const KERAS_DOMAIN = 'mc.keras';

/** Permutation taking a native tensor of rank r to channels-first. @internal */
export function toCfPerm(rank: number): number[] {
  return [0, rank - 1, ...Array.from({ length: rank - 2 }, (_, i) => i + 1)];
}
/** Permutation taking channels-first back to native. @internal */
export function toNativePerm(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];
}
/** Maps a native axis (negative allowed) to its position in the given layout. @internal */
export function axisIn(layout: Layout, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (layout === 'native' || rank < 3 || a === 0) return a;
  return a === rank - 1 ? 1 : a + 1;
}

function toAttr(v: AttrInput): Attribute {
  if (typeof v === 'number') return Number.isInteger(v) ? attr.int(v) : attr.float(v);
  if (typeof v === 'string') return attr.string(v);
  if (Array.isArray(v)) return attr.ints(v as number[]);
  return v as Attribute;
}

/**
 * What a layer's `toIr` gets: its inputs, and helpers to emit tagged nodes and weights.
 * @internal
 */
export class LowerContext {
  readonly #graph: Graph;
  readonly #transposes: Map<Value, Value>;
  readonly #weights: Map<string, Value>;
  readonly #tag: string;
  #count = 0;
  /** Keras 3 changed a few defaults (`hard_sigmoid`); the reader knows the version. */
  readonly keras3: boolean;

  constructor(
    graph: Graph,
    readonly layer: KerasLayer,
    readonly callIndex: number,
    readonly inputs: KVal[],
    readonly file: string,
    caches: { transposes: Map<Value, Value>; weights: Map<string, Value>; keras3: boolean },
  ) {
    this.keras3 = caches.keras3;
    this.#graph = graph;
    this.#transposes = caches.transposes;
    this.#weights = caches.weights;
    const tag: Record<string, unknown> = { name: layer.name, class_name: layer.className, config: layer.config };
    if (callIndex > 0) tag.node_index = callIndex;
    if (layer.module !== undefined) tag.module = layer.module;
    if (layer.registeredName !== undefined) tag.registered_name = layer.registeredName;
    this.#tag = JSON.stringify(tag);
  }

  get config(): KerasLayer['config'] {
    return this.layer.config;
  }

  /**
   * A config field, or `dflt`. A present field must have the default's JSON type (a number where the default is a
   * number, ...): a hostile config must fail here as E_FORMAT, not later inside the lowering or the protobuf encoder.
   */
  cfg<T>(key: string, dflt: T): T {
    const v = this.layer.config[key];
    if (v === undefined || v === null) return dflt;
    const want = dflt === null ? 'number' : typeof dflt;
    // Some Keras versions store booleans as 0/1 (str_ww_ref_model.h5: BatchNormalization `scale: 1`).
    const ok =
      want === 'boolean' ? typeof v === 'boolean' || v === 0 || v === 1 : typeof v === want && (want !== 'number' || Number.isFinite(v));
    if (!ok) {
      throw this.error(
        'E_FORMAT',
        `has config field '${key}' = ${JSON.stringify(v)?.slice(0, 40)}, expected a ${want}; the config is damaged: re-export the model`,
      );
    }
    return (want === 'boolean' ? v !== false && v !== 0 : v) as T;
  }

  /** Input `i` in the wanted layout (a Transpose is added once per value when needed). */
  input(i: number, want: Layout | 'any' = 'any'): KVal {
    const k = this.inputs[i];
    if (k === undefined) throw this.error('E_FORMAT', `expects input ${i} but the model connects ${this.inputs.length}`);
    if (want === 'any' || k.layout === want || k.shape.length < 3) return k.shape.length < 3 ? { ...k, layout: 'native' } : k;
    return { value: this.transpose(k, want), layout: want, shape: k.shape };
  }

  /** All inputs in one common layout: channels-first when most are, else native. */
  inputsAligned(): { layout: Layout; vals: KVal[] } {
    const cf = this.inputs.filter((k) => k.layout === 'cf' && k.shape.length >= 3).length;
    const layout: Layout = cf * 2 > this.inputs.length ? 'cf' : 'native';
    return { layout, vals: this.inputs.map((_, i) => this.input(i, layout)) };
  }

  transpose(k: KVal, want: Layout): Value {
    const cached = this.#transposes.get(k.value);
    if (cached !== undefined) return cached;
    const rank = k.shape.length;
    const n = new Node({
      opType: 'Transpose',
      name: this.#graph.uniqueName(`${k.value.name}_to_${want}`),
      inputs: [k.value],
      outputs: [this.#graph.uniqueName(`${k.value.name}_${want}`)],
      attributes: [['perm', attr.ints(want === 'cf' ? toCfPerm(rank) : toNativePerm(rank))]],
    });
    n.metadataProps.set(KERAS_LAYOUT_KEY, want === 'cf' ? 'to_channels_first' : 'to_channels_last');
    this.#graph.append(n);
    const out = n.outputs[0]!;
    this.#transposes.set(k.value, out);
    return out;
  }

  /** Emits a node tagged with this layer; returns its outputs. */
  nodeN(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attributes: Record<string, AttrInput> = {},
    opts: { outputs?: number; domain?: string } = {},
  ): Value[] {
    const suffix = this.#count++ === 0 ? '' : `_${this.#count - 1}`;
    const base = `${this.layer.name}${this.callIndex > 0 ? `_call${this.callIndex}` : ''}/${opType}${suffix}`;
    const name = this.#graph.uniqueName(base);
    const n = new Node({
      opType,
      ...(opts.domain !== undefined && { domain: opts.domain }),
      name,
      inputs,
      outputs: Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.#graph.uniqueName(`${name}:${i}`)),
      attributes: Object.entries(attributes).map(([k, v]) => [k, toAttr(v)] as [string, Attribute]),
    });
    n.metadataProps.set(KERAS_LAYER_KEY, this.#tag);
    this.#graph.append(n);
    return [...n.outputs];
  }

  node(
    opType: string,
    inputs: readonly (Value | undefined)[],
    attributes: Record<string, AttrInput> = {},
    opts: { domain?: string } = {},
  ): Value {
    return this.nodeN(opType, inputs, attributes, opts)[0]!;
  }

  /** An initializer named `<layer>/<name>`, shared by every call of the layer. */
  weight(name: string, tensor: Tensor): Value {
    const key = `${this.layer.name}/${name}`;
    const existing = this.#weights.get(key);
    if (existing !== undefined) return existing;
    const v = this.#graph.addInitializer(key, tensor);
    this.#weights.set(key, v);
    return v;
  }

  /** A small constant initializer (shapes, scalars) private to this call. */
  constant(name: string, tensor: Tensor): Value {
    return this.#graph.addInitializer(`${this.layer.name}${this.callIndex > 0 ? `_call${this.callIndex}` : ''}/${name}`, tensor);
  }

  int64(name: string, values: readonly number[]): Value {
    return this.constant(name, new Tensor('int64', [values.length], BigInt64Array.from(values.map((x) => BigInt(x)))));
  }

  scalar(name: string, v: number): Value {
    return this.constant(name, new Tensor('float32', [], new Float32Array([v])));
  }

  /** The layer's stored weight `i` (its position in Keras' `layer.weights`), checked against the expected shape. */
  stored(i: number, what: string, expected?: readonly (number | null)[]): Tensor {
    const t = this.layer.weights[i];
    if (t === undefined) {
      throw this.error(
        'E_FORMAT',
        `has no stored weight '${what}' (weight ${i}; the file holds ${this.layer.weights.length}: ${this.layer.weightNames.join(', ') || 'none'}); the weights do not belong to this architecture`,
      );
    }
    if (expected !== undefined && (t.dims.length !== expected.length || expected.some((d, k) => d !== null && d !== t.dims[k]))) {
      throw this.error(
        'E_FORMAT',
        `weight '${what}' (${this.layer.weightNames[i] ?? i}) has shape [${t.dims.join(', ')}] but the config needs [${expected.map((d) => d ?? '?').join(', ')}]; the weights do not match the architecture`,
      );
    }
    return t;
  }

  error(code: McErrorCode, what: string): McError {
    return new McError(code, `${this.layer.className} layer '${this.layer.name}' ${what} (file ${this.file})`, {
      context: { file: this.file, layer: this.layer.name, opType: this.layer.className },
    });
  }
}
