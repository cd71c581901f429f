import type { Node } from '../node.js';
import type { Tensor } from '../tensor.js';
import type { Value } from '../value.js';
import { activationOps } from './activation.js';
import { convOps } from './conv.js';
import { type OpInfo, inputIndex } from './define.js';
import { elementwiseOps } from './elementwise.js';
import { gemmOps } from './gemm.js';
import { generateOps } from './generate.js';
import { normOps } from './norm.js';
import { poolOps } from './pool.js';
import { quantOps } from './quant.js';
import { reduceOps } from './reduce.js';
import { shapeOps } from './shape.js';

const REGISTRY = new Map<string, OpInfo>();
for (const info of [
  ...convOps,
  ...gemmOps,
  ...normOps,
  ...elementwiseOps,
  ...activationOps,
  ...poolOps,
  ...shapeOps,
  ...generateOps,
  ...reduceOps,
  ...quantOps,
]) {
  REGISTRY.set(`${info.domain}::${info.opType}`, info);
}

/**
 * What mc knows about this node's op, or undefined: techniques pass unknown ops through untouched and report them.
 *
 * @example
 * ```ts
 * opInfo(node)?.channels; // 'producer' for Conv
 * ```
 */
export function opInfo(node: Pick<Node, 'opType' | 'domain'>): OpInfo | undefined {
  const domain = node.domain === 'ai.onnx' ? '' : node.domain;
  return REGISTRY.get(`${domain}::${node.opType}`);
}

/** Every registered op. */
export function registeredOps(): OpInfo[] {
  return [...REGISTRY.values()];
}

/**
 * The input named `name` (spec name, e.g. 'W') of `node`, or undefined when absent.
 *
 * @example
 * ```ts
 * namedInput(conv, 'B'); // the bias value, if any
 * ```
 */
export function namedInput(node: Node, name: string): Value | undefined {
  const info = opInfo(node);
  if (info === undefined) return undefined;
  const i = inputIndex(info, name);
  return i < 0 ? undefined : node.inputs[i];
}

/** A layer's weight: its value, constant tensor (when an initializer), channel axes and group count. */
export interface WeightRef {
  value: Value;
  /** Input slot of the weight in the node. */
  index: number;
  tensor: Tensor | undefined;
  outAxis: number;
  inAxis: number;
  group: number;
}

/**
 * The weight of a Conv/ConvTranspose/Gemm/MatMul node with its channel axes resolved (Gemm transB swaps them).
 * MatMul counts as a layer only when B is a constant; otherwise undefined.
 *
 * @example
 * ```ts
 * const w = weightOf(conv); // { outAxis: 0, inAxis: 1, group: 1, tensor: ... }
 * ```
 */
export function weightOf(node: Node): WeightRef | undefined {
  const info = opInfo(node);
  const spec = info?.params.weight;
  if (info === undefined || spec === undefined) return undefined;
  const index = inputIndex(info, spec.input);
  const value = node.inputs[index];
  if (value === undefined) return undefined;
  const tensor = value.constValue;
  if (node.opType === 'MatMul' && tensor === undefined) return undefined;
  const transposed = spec.transposeAttr !== undefined && node.attrInt(spec.transposeAttr, 0) === 1;
  return {
    value,
    index,
    tensor,
    outAxis: transposed ? spec.inAxis : spec.outAxis,
    inAxis: transposed ? spec.outAxis : spec.inAxis,
    group: spec.groupAttr === undefined ? 1 : node.attrInt(spec.groupAttr, 1),
  };
}

/**
 * The bias of a layer, when present.
 *
 * @example
 * ```ts
 * biasOf(gemm)?.tensor;
 * ```
 */
export function biasOf(node: Node): { value: Value; index: number; tensor: Tensor | undefined } | undefined {
  const info = opInfo(node);
  const spec = info?.params.bias;
  if (info === undefined || spec === undefined) return undefined;
  const index = inputIndex(info, spec.input);
  const value = node.inputs[index];
  return value === undefined ? undefined : { value, index, tensor: value.constValue };
}

/**
 * Per-channel parameter inputs by spec name (BatchNormalization: scale, B, input_mean, input_var).
 *
 * @example
 * ```ts
 * paramsOf(bn).get('scale')?.constValue;
 * ```
 */
export function paramsOf(node: Node): Map<string, Value> {
  const info = opInfo(node);
  const out = new Map<string, Value>();
  for (const name of info?.params.channel ?? []) {
    const v = namedInput(node, name);
    if (v !== undefined) out.set(name, v);
  }
  return out;
}
