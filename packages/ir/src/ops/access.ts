import { McError } from '../errors.js';
import type { Node } from '../node.js';
import type { Value } from '../value.js';
import { type AttrName, type AttrTypes, inputIndex } from './define.js';
import { opInfo } from './registry.js';

// Reading a node by the spec's names instead of positions: `slotOf(conv, 'B')` rather than `conv.inputs[2]`,
// `attrOf(gemm, 'transB')` rather than `gemm.attrInt('transB', 0)`. The positions and defaults live in the op tables
// (./conv.ts, ./gemm.ts, ...), once.

function undeclared(node: Node, what: string): McError {
  return new McError(
    'E_INVARIANT',
    `${node.label()} has no declared ${what}; declare it in the op table in packages/ir/src/ops (spec: https://onnx.ai/onnx/operators/)`,
    { context: { node: node.name, opType: node.opType } },
  );
}

/**
 * Input index of the slot `name` of `node`'s op: a spec input name ('W', 'x_scale'), or a role: 'weight' / 'bias'
 * where the op declares one (Conv 'bias' is 'B', Gemm 'bias' is 'C'), and 'input' for the data operand, slot 0 (the
 * spec's own name for it in Identity, Flatten, Cast, Softmax, …; for walking through ops that move values). Throws
 * `E_INVARIANT` for a name the op does not declare (a bug in the caller, not bad input).
 *
 * @example
 * ```ts
 * slotIndex(conv, 'bias'); // 2
 * ```
 */
export function slotIndex(node: Node, name: string): number {
  const info = opInfo(node);
  if (info === undefined) throw undeclared(node, `input slot '${name}' (the op is not registered)`);
  let i = inputIndex(info, name);
  if (i < 0 && name === 'weight' && info.params.weight !== undefined) i = inputIndex(info, info.params.weight.input);
  if (i < 0 && name === 'bias' && info.params.bias !== undefined) i = inputIndex(info, info.params.bias.input);
  if (i < 0 && name === 'input' && info.inputs.length > 0) i = 0;
  if (i < 0) throw undeclared(node, `input slot '${name}' (it has ${info.inputs.join(', ') || 'no inputs'})`);
  return i;
}

/**
 * The value at input slot `name` (see {@link slotIndex}), or undefined when the slot is absent or empty (an omitted
 * optional input, written as '' in ONNX).
 *
 * @example
 * ```ts
 * slotOf(conv, 'bias');        // the bias value, or undefined
 * slotOf(dq, 'x_zero_point');  // DequantizeLinear's zero point, or undefined
 * ```
 */
export function slotOf(node: Node, name: string): Value | undefined {
  const v = node.inputs[slotIndex(node, name)];
  return v === undefined || (v.name === '' && v.producer() === undefined && v.constValue === undefined) ? undefined : v;
}

/**
 * Attribute `name` of `node`, typed by {@link AttrTypes}, or the spec default the op table declares when the node
 * omits it; undefined where the spec has no default (`strides`, `output_shape`). Where the default changed between
 * opsets (Softmax's axis), pass the model's `opset`; without it the current default applies. Throws `E_FORMAT` when a
 * required attribute is missing or has the wrong type, `E_INVARIANT` when the op table does not declare the attribute.
 *
 * @example
 * ```ts
 * attrOf(conv, 'group');        // 1 unless the node says otherwise
 * attrOf(gemm, 'alpha');        // 1.0 by default
 * attrOf(softmax, 'axis', 11);  // 1 (opset < 13), -1 from opset 13
 * ```
 */
export function attrOf<K extends AttrName>(node: Node, name: K, opset?: number): AttrTypes[K] {
  const spec = opInfo(node)?.attrs[name];
  if (spec === undefined) throw undeclared(node, `attribute '${name}'`);
  if (node.attr(name) === undefined) {
    if (spec.required === true) {
      throw new McError(
        'E_FORMAT',
        `${node.label()} has no attribute '${name}', which the ONNX spec requires; re-export the model with it set`,
        {
          context: { node: node.name, opType: node.opType },
        },
      );
    }
    const d = spec.before !== undefined && opset !== undefined && opset < spec.before.opset ? spec.before.default : spec.default;
    return (Array.isArray(d) ? [...(d as number[])] : d) as AttrTypes[K];
  }
  switch (spec.kind) {
    case 'INT':
      return node.attrInt(name) as AttrTypes[K];
    case 'FLOAT':
      return node.attrFloat(name) as AttrTypes[K];
    case 'STRING':
      return node.attrString(name) as AttrTypes[K];
    case 'INTS':
      return node.attrInts(name) as AttrTypes[K];
    case 'FLOATS': {
      const a = node.attr(name);
      return (a?.type === 'FLOATS' ? [...a.value] : undefined) as AttrTypes[K];
    }
  }
}
