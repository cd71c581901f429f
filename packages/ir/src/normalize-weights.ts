import type { Attribute } from './attribute.js';
import type { McWarning } from './errors.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Node } from './node.js';
import type { Pass } from './passes.js';
import { Tensor } from './tensor.js';
import { Value } from './value.js';

/** What {@link normalizeWeights} changed. */
export interface NormalizeWeightsResult {
  modified: boolean;
  /** `Constant` nodes turned into initializers (their output names are kept). */
  constants: number;
  /** `Identity` nodes of an initializer removed (their readers now read the initializer). */
  identities: number;
  /** Initializers read by more than one node input after normalisation (tied weights): name → number of reads. */
  shared: Map<string, number>;
  warnings: McWarning[];
}

/**
 * The tensor a `Constant` node holds, when it is a plain tensor: attribute `value`, `value_float(s)` or
 * `value_int(s)` (https://onnx.ai/onnx/operators/onnx__Constant.html). `sparse_value` and strings stay nodes.
 */
export function constantTensor(node: Node): Tensor | undefined {
  if (node.opType !== 'Constant' || (node.domain !== '' && node.domain !== 'ai.onnx') || node.attributes.size !== 1) return undefined;
  const [name, a] = [...node.attributes][0] as [string, Attribute];
  if (a.refAttrName !== undefined) return undefined;
  if (name === 'value' && a.type === 'TENSOR') return a.value.dtype === 'string' ? undefined : a.value;
  if (name === 'value_float' && a.type === 'FLOAT') return new Tensor('float32', [], Float32Array.of(a.value));
  if (name === 'value_floats' && a.type === 'FLOATS') return new Tensor('float32', [a.value.length], Float32Array.from(a.value));
  if (name === 'value_int' && a.type === 'INT') return new Tensor('int64', [], BigInt64Array.of(a.value));
  if (name === 'value_ints' && a.type === 'INTS') return new Tensor('int64', [a.value.length], BigInt64Array.from(a.value));
  return undefined;
}

/** Names read inside subgraphs (If/Loop/Scan bodies), at any depth: outer values they capture by name. */
function subgraphReads(g: Graph, into = new Set<string>()): Set<string> {
  for (const n of g.nodes) {
    for (const a of n.attributes.values()) {
      const subs = a.type === 'GRAPH' ? [a.value] : a.type === 'GRAPHS' ? a.value : [];
      for (const s of subs) {
        for (const sn of s.nodes) for (const v of sn.inputs) if (v !== undefined) into.add(v.name);
        subgraphReads(s, into);
      }
    }
  }
  return into;
}

/** An initializer that is a true constant: not an overridable graph input (IR >= 4). */
function isConstant(v: Value | undefined, model: Model): v is Value {
  return v !== undefined && v.isInitializer() && v.constValue !== undefined && !(v.isGraphInput() && model.irVersion >= 4);
}

function dropValueInfo(g: Graph, name: string): void {
  const i = g.valueInfo.findIndex((v) => v.name === name);
  if (i >= 0) g.valueInfo.splice(i, 1);
}

/**
 * Brings weights to one form, in place, so every technique finds them where it looks: as initializers.
 *
 * Third-party exporters write weights in other forms. Paddle2ONNX keeps every weight in a `Constant` node;
 * torch.onnx shares identical initializers (tied weights, default BatchNorm statistics) through `Identity` nodes.
 * This pass:
 * - turns each `Constant` node holding a plain tensor into an initializer of the same name;
 * - removes each `Identity` whose input is a constant initializer; its readers read the initializer itself
 *   (an Identity whose output is a graph output stays, so the model's outputs keep their names);
 * - leaves alone anything a subgraph captures by name, Constants feeding graph outputs, and IR < 4 models' inputs
 *   contract (a new initializer is also listed as a graph input there).
 *
 * A weight read by several inputs after this is a *shared* parameter (`result.shared`): a technique that changes
 * it for one reader gives that reader its own copy ({@link untieInput}); one that changes it the same way for all
 * keeps it shared. The rewrite is exact: outputs are bit-identical (checked in onnxruntime-node).
 *
 * Readers do not apply it (lossless ONNX → ONNX round trips stay byte-identical); each technique applies it to its
 * working copy.
 *
 * @example
 * ```ts
 * const m = model.clone();
 * const { constants, identities, shared } = normalizeWeights(m);
 * ```
 */
export function normalizeWeights(model: Model): NormalizeWeightsResult {
  const g = model.graph;
  const captured = subgraphReads(g);
  let constants = 0;
  let identities = 0;
  for (const node of [...g.nodes]) {
    const out = node.outputs[0];
    if (out === undefined || node.outputs.length !== 1 || g.outputs.includes(out) || captured.has(out.name)) continue;
    if (node.opType === 'Constant') {
      const t = constantTensor(node);
      if (t === undefined) continue;
      const name = out.name;
      out.name = g.uniqueName(`${name}__constant`);
      const v = new Value(name, { constValue: t });
      v.docString = out.docString;
      for (const [k, x] of out.metadataProps) v.metadataProps.set(k, x);
      g.setInitializer(v);
      if (model.irVersion < 4) g.addInput(v);
      out.replaceAllUsesWith(v);
      g.remove(node);
      constants++;
    } else if (node.opType === 'Identity' && (node.domain === '' || node.domain === 'ai.onnx') && isConstant(node.inputs[0], model)) {
      out.replaceAllUsesWith(node.inputs[0]);
      g.remove(node);
      dropValueInfo(g, out.name);
      identities++;
    }
  }
  const shared = new Map<string, number>();
  for (const [name, v] of g.initializers) if (v.uses().length > 1) shared.set(name, v.uses().length);
  const modified = constants + identities > 0;
  if (modified) g.touch();
  return { modified, constants, identities, shared, warnings: [] };
}

/** {@link normalizeWeights} as a {@link Pass}. */
export const normalizeWeightsPass: Pass = {
  name: 'normalize-weights',
  run: (model) => {
    const r = normalizeWeights(model);
    return { modified: r.modified, warnings: r.warnings };
  },
};

/**
 * Copy on write for a shared parameter: when input `index` of `node` is an initializer that other inputs also read,
 * gives `node` its own initializer holding the same (immutable) tensor and returns it; otherwise returns the input
 * as it is. Call it before changing a shared weight for one reader only.
 *
 * @example
 * ```ts
 * const own = untieInput(conv, 1); // conv's weight, no longer shared with other convs
 * ```
 */
export function untieInput(node: Node, index: number): Value | undefined {
  const v = node.inputs[index];
  const g = node.graph;
  if (v === undefined || g === undefined || !v.isInitializer() || v.constValue === undefined || v.uses().length < 2) return v;
  const own = g.addInitializer(g.uniqueName(v.name), v.constValue);
  node.replaceInput(index, own);
  return own;
}
