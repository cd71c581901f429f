import { slotOf } from '@mc/ir';
import type { Attribute, Model, Tensor, Value } from '@mc/ir';

/** What {@link slimModel} removed, for the report. */
export interface SlimStats {
  readonly metadata: number;
  readonly valueInfo: number;
  readonly identities: number;
  readonly sharedInitializers: number;
  readonly zeroPoints: number;
  readonly defaultAttributes: number;
  readonly renamed: number;
}

/** Metadata keys written by source-framework readers that only serve writing the model back to that framework. */
const LAYER_METADATA = /^keras\./;

/** Attribute values equal to the ONNX default, by op: dropping them does not change what the op computes. */
const ones = (a: Attribute) => a.type === 'INTS' && a.value.every((x) => x === 1n);
const zeros = (a: Attribute) => a.type === 'INTS' && a.value.every((x) => x === 0n);
const isInt = (v: bigint) => (a: Attribute) => a.type === 'INT' && a.value === v;
const notSet = (a: Attribute) => a.type === 'STRING' && new TextDecoder().decode(a.value) === 'NOTSET';
const WINDOW = { dilations: ones, strides: ones, pads: zeros, auto_pad: notSet };
const DEFAULT_ATTRS: Record<string, Record<string, (a: Attribute) => boolean>> = {
  Conv: { ...WINDOW, group: isInt(1n) },
  ConvTranspose: { ...WINDOW, group: isInt(1n) },
  QLinearConv: { ...WINDOW, group: isInt(1n) },
  MaxPool: { ...WINDOW, ceil_mode: isInt(0n), storage_order: isInt(0n) },
  AveragePool: { ...WINDOW, ceil_mode: isInt(0n), count_include_pad: isInt(0n) },
  Gemm: {
    transA: isInt(0n),
    transB: isInt(0n),
    alpha: (a) => a.type === 'FLOAT' && a.value === 1,
    beta: (a) => a.type === 'FLOAT' && a.value === 1,
  },
  QuantizeLinear: { axis: isInt(1n) },
  DequantizeLinear: { axis: isInt(1n) },
};

/** Suffixes the modes add to the name of a tensor they replace (`W_quantized`, `W_fp16`, `W_1`). */
const GENERATED_SUFFIX = /_(quantized|fp16|bf16|int32|int8|uint8|reshaped|\d+)$/;

/** Largest initializer compared byte by byte when sharing identical constants. */
const SHARE_MAX_BYTES = 4096;

function tensorKey(t: Tensor): string | undefined {
  if (t.isLazy || t.byteLength > SHARE_MAX_BYTES) return undefined;
  const d = t.data as unknown;
  if (!ArrayBuffer.isView(d)) return undefined;
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  return `${t.dtype}[${t.dims.join(',')}]${String.fromCharCode(...bytes)}`;
}

function allZero(t: Tensor): boolean {
  if (t.isLazy) return false;
  const d = t.data as ArrayLike<number>;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) return false;
  return true;
}

/** Short names: base 36 counting, skipping names already taken. */
function* shortNames(taken: ReadonlySet<string>): Generator<string> {
  for (let i = 0; ; i++) {
    const n = i.toString(36);
    if (!taken.has(n)) yield n;
  }
}

/**
 * The finishing pass of {@link quantize}: removes bytes that do not change what the model computes.
 * - per-layer source-framework metadata (`keras.*` on nodes and values: the Keras layer config JSON that
 *   `@mc/io-keras` writes so a float model can be written back to Keras; a quantized graph cannot be);
 * - intermediate `value_info` (onnxruntime and `onnx.shape_inference` infer it again);
 * - Identity nodes (not on a graph output);
 * - duplicate constants (equal scale / zero-point scalars are shared);
 * - all-zero zero points of DequantizeLinear on weights (the spec's default is a 0 of the input's type);
 * - attributes equal to their ONNX default (Conv `group: 1`, `strides: [1, 1]`, …);
 * - long generated names: a quantized or converted initializer takes back the name of the float initializer it
 *   replaced when that name is free, other generated tensors get short names and generated nodes none.
 * Names from the input model (graph inputs and outputs, original nodes and tensors) are kept, unless `shortNames`
 * (option `names: 'short'`) treats every name but the graph inputs' and outputs' as generated. With control flow
 * (If/Loop/Scan bodies read outer tensors by name) names, Identity nodes and duplicate constants are left alone.
 * @internal
 */
export function slimModel(model: Model, names: ModelNames, opts: { shortNames?: boolean } = {}): SlimStats {
  const g = model.graph;
  let metadata = 0;
  const dropMeta = (m: Map<string, string>) => {
    for (const k of [...m.keys()]) {
      if (LAYER_METADATA.test(k)) {
        m.delete(k);
        metadata++;
      }
    }
  };
  for (const n of g.nodes) dropMeta(n.metadataProps);
  for (const v of g.values()) dropMeta(v.metadataProps);
  for (const v of g.outputs) dropMeta(v.metadataProps);

  const valueInfo = g.valueInfo.length;
  g.valueInfo.length = 0;
  // Subgraphs (If/Loop/Scan bodies) read outer tensors by name: with control flow, names and identities stay.
  const nested = g.nodes.some((n) => [...n.attributes.values()].some((a) => a.type === 'GRAPH' || a.type === 'GRAPHS'));

  let identities = 0;
  for (const n of nested ? [] : [...g.nodes]) {
    if (n.opType !== 'Identity' || n.domain !== '') continue;
    const x = slotOf(n, 'input');
    const y = n.outputs[0]!;
    if (x === undefined || y.isGraphOutput()) continue;
    y.replaceAllUsesWith(x);
    g.remove(n);
    identities++;
  }

  // Identical small constants are shared (the first one's name is kept).
  let sharedInitializers = 0;
  const seen = new Map<string, Value>();
  for (const v of nested ? [] : [...g.initializers.values()]) {
    if (v.isGraphInput() || v.isGraphOutput() || v.constValue === undefined) continue;
    const key = tensorKey(v.constValue);
    if (key === undefined) continue;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, v);
      continue;
    }
    v.replaceAllUsesWith(first);
    g.removeInitializer(v.name);
    sharedInitializers++;
  }

  let zeroPoints = 0;
  let defaultAttributes = 0;
  for (const n of g.nodes) {
    if (n.domain !== '') continue;
    if (n.opType === 'DequantizeLinear' && n.inputs.length === 3) {
      const [x, , z] = n.inputs;
      const zt = z?.constValue;
      // Only on constant inputs (weights): onnxruntime 1.30 computes differently when an activation's DequantizeLinear
      // lacks the zero point its QuantizeLinear has (measured on ultraface: cosine 0.98 instead of 1).
      const weight = x !== undefined && x.isInitializer() && !x.isGraphInput() && x.constValue !== undefined;
      if (
        weight &&
        z !== undefined &&
        zt !== undefined &&
        z.isInitializer() &&
        !z.isGraphInput() &&
        zt.dtype === x.constValue!.dtype &&
        allZero(zt)
      ) {
        n.replaceInput(2, undefined);
        n.trimInputs();
        zeroPoints++;
      }
    }
    const defaults = DEFAULT_ATTRS[n.opType];
    if (defaults === undefined) continue;
    for (const [name, a] of [...n.attributes]) {
      if (defaults[name]?.(a) === true) {
        n.attributes.delete(name);
        defaultAttributes++;
      }
    }
  }
  if (defaultAttributes > 0) g.touch();
  g.removeUnusedInitializers();

  const renamed = nested
    ? 0
    : shortenNames(model, opts.shortNames === true ? { values: new Set(), initializers: new Set(), nodes: new Set() } : names);
  return { metadata, valueInfo, identities, sharedInitializers, zeroPoints, defaultAttributes, renamed };
}

/**
 * Names: a quantized or converted initializer takes back the name of the float initializer it replaced; other
 * generated values get short names, generated nodes none. Returns how many values were renamed.
 */
function shortenNames(model: Model, names: ModelNames): number {
  const g = model.graph;
  const taken = new Set<string>();
  for (const v of g.values()) taken.add(v.name);
  for (const v of g.outputs) taken.add(v.name);
  const original = (v: Value) => names.values.has(v.name);
  let renamed = 0;
  const inits = [...g.initializers.values()];
  const kept = new Set<Value>();
  for (const v of inits) {
    if (original(v) || v.isGraphInput() || v.isGraphOutput()) continue;
    for (let base = v.name; GENERATED_SUFFIX.test(base); ) {
      base = base.replace(GENERATED_SUFFIX, '');
      if (names.initializers.has(base) && !taken.has(base)) {
        taken.delete(v.name);
        taken.add(base);
        v.name = base;
        kept.add(v);
        renamed++;
        break;
      }
    }
  }
  const fresh = shortNames(new Set([...taken, ...names.values]));
  const generated = (v: Value) => !original(v) && !kept.has(v) && !v.isGraphInput() && !v.isGraphOutput();
  let rekey = kept.size > 0;
  for (const v of inits) {
    if (generated(v)) {
      v.name = fresh.next().value!;
      rekey = true;
      renamed++;
    }
  }
  if (rekey) {
    g.initializers.clear();
    for (const v of inits) g.setInitializer(v);
  }
  for (const n of g.nodes) {
    for (const o of n.outputs) {
      if (generated(o)) {
        o.name = fresh.next().value!;
        renamed++;
      }
    }
    if (n.name !== '' && !names.nodes.has(n.name)) n.name = '';
  }
  return renamed;
}

/** Names in a model before quantizing, to tell original names from generated ones. @internal */
export interface ModelNames {
  readonly values: ReadonlySet<string>;
  readonly initializers: ReadonlySet<string>;
  readonly nodes: ReadonlySet<string>;
}

/** The value, initializer and node names of a model. @internal */
export function namesOf(model: Model): ModelNames {
  const g = model.graph;
  const values = new Set<string>();
  for (const v of g.values()) values.add(v.name);
  for (const v of g.outputs) values.add(v.name);
  return { values, initializers: new Set(g.initializers.keys()), nodes: new Set(g.nodes.map((n) => n.name).filter((n) => n !== '')) };
}
