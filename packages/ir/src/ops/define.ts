import type { Node } from '../node.js';
import type { Dim, Shape } from '../types.js';
import type { DType } from '../dtype.js';

/** Which input holds a layer's weight, and where its channel axes are. */
export interface WeightSpec {
  /** Spec name of the input, e.g. 'W' for Conv, 'B' for Gemm and MatMul. */
  input: string;
  /** Axis of output channels (features) in the weight. */
  outAxis: number;
  /** Axis of input channels in the weight. */
  inAxis: number;
  /** Attribute holding the group count (Conv). */
  groupAttr?: string;
  /** Attribute that transposes the weight when 1 (Gemm transB swaps the axes). */
  transposeAttr?: string;
}

/** How a node relates the channels of its inputs and outputs (for pruning dependency groups). */
export type ChannelRole =
  /** Defines new output channels from its weight (Conv, Gemm, MatMul with constant weight). */
  | 'producer'
  /** Per-channel parameters on channel axis 1 (BatchNormalization, InstanceNormalization, PRelu with per-channel slope). */
  | 'channelwise'
  /** Same shape in and out, no parameters (Relu, Dropout, pooling). */
  | 'passthrough'
  /** Inputs broadcast against each other: channels of all inputs are coupled (Add, Mul, Sub, Div). */
  | 'elementwise'
  /** Concatenation along an axis. */
  | 'concat'
  /** Anything else: mc cannot reason about channels through it. */
  | 'opaque';

/** Input shapes/dtypes/constants handed to shape inference. */
export interface ShapeContext {
  node: Node;
  shapes: (Shape | undefined)[];
  dtypes: (DType | undefined)[];
  /** Constant input values as numbers (small int64/int32 tensors such as Reshape's shape), when known. */
  consts: (number[] | undefined)[];
  /**
   * Contents of small integer inputs (at most 64 elements, flattened) as dims: numbers, or symbolic dims where they
   * were computed from shapes (`Shape → Gather → Concat → Reshape`). `consts[i]` is `values[i]` when all are numbers.
   */
  values: (Dim[] | undefined)[];
}

/** Wire type of an attribute (https://onnx.ai/onnx/api/classes.html#attributeproto). */
export type AttrKind = 'INT' | 'FLOAT' | 'STRING' | 'INTS' | 'FLOATS';

/**
 * TypeScript type of each attribute mc reads, by ONNX name. ONNX gives one name the same type across ops (`axis` is
 * always INT, `alpha` always FLOAT). `undefined` marks attributes that have no spec default (a rank-dependent default
 * such as `strides`, or an optional attribute such as `output_shape`).
 */
export interface AttrTypes {
  group: number;
  auto_pad: string;
  approximate: string;
  kernel_shape: number[] | undefined;
  strides: number[] | undefined;
  dilations: number[] | undefined;
  pads: number[] | undefined;
  output_padding: number[] | undefined;
  output_shape: number[] | undefined;
  ceil_mode: number;
  count_include_pad: number;
  storage_order: number;
  p: number;
  transA: number;
  transB: number;
  alpha: number;
  beta: number;
  gamma: number;
  epsilon: number;
  momentum: number;
  training_mode: number;
  stash_type: number;
  axis: number;
  axes: number[] | undefined;
  keepdims: number;
  noop_with_empty_axes: number;
  allowzero: number;
  perm: number[] | undefined;
  split: number[] | undefined;
  num_outputs: number | undefined;
  starts: number[] | undefined;
  ends: number[] | undefined;
  start: number;
  end: number | undefined;
  mode: string;
  value: number;
  coordinate_transformation_mode: string;
  nearest_mode: string;
  cubic_coeff_a: number;
  exclude_outside: number;
  extrapolation_value: number;
  min: number;
  max: number;
  ratio: number;
  fmod: number;
  direction: string;
  to: number;
  block_size: number;
  saturate: number;
  output_dtype: number;
  K: number;
  N: number;
  bits: number;
  accuracy_level: number;
  quant_type: number;
  equation: string;
}

/** Name of an attribute mc knows the type of. */
export type AttrName = keyof AttrTypes;

/** One declared attribute: its wire type and its spec default, or `required` when the spec has none and demands it. */
export interface AttrSpec {
  kind: AttrKind;
  default?: number | string | readonly number[];
  required?: boolean;
  /** A default that changed: below opset `opset` it was `default` (Softmax's axis was 1 before opset 13). */
  before?: { opset: number; default: number | string };
}

/** Declared attributes of an op, by spec name. */
export type AttrSpecs = { readonly [K in AttrName]?: AttrSpec };

/** An INT attribute with its spec default (omit for none). @internal */
export const int = (d?: number): AttrSpec => (d === undefined ? { kind: 'INT' } : { kind: 'INT', default: d });
/** A FLOAT attribute with its spec default. @internal */
export const float = (d?: number): AttrSpec => (d === undefined ? { kind: 'FLOAT' } : { kind: 'FLOAT', default: d });
/** A STRING attribute with its spec default. @internal */
export const str = (d?: string): AttrSpec => (d === undefined ? { kind: 'STRING' } : { kind: 'STRING', default: d });
/** An INTS attribute (no default: absent means "not given"). @internal */
export const ints = (): AttrSpec => ({ kind: 'INTS' });
/** An attribute the spec requires. @internal */
export const required = (kind: AttrKind): AttrSpec => ({ kind, required: true });

/** Conv/pool geometry attributes (https://onnx.ai/onnx/operators/onnx__Conv.html); stride/dilation/pad defaults depend on the rank. @internal */
export const spatialAttrSpecs = {
  auto_pad: str('NOTSET'),
  kernel_shape: ints(),
  strides: ints(),
  dilations: ints(),
  pads: ints(),
} as const satisfies AttrSpecs;

/** Registered knowledge about one op type. Spec names are ONNX's own (https://onnx.ai/onnx/operators/). */
export interface OpInfo {
  opType: string;
  domain: string;
  /** Input names in spec order; a trailing '?' marks optional, a leading '...' variadic. */
  inputs: readonly string[];
  /** Attributes mc reads, with their spec defaults; read them with `attrOf(node, name)`. */
  attrs: AttrSpecs;
  params: {
    weight?: WeightSpec;
    bias?: { input: string };
    /** Other per-channel parameter inputs (BN scale/B/mean/var). */
    channel?: readonly string[];
  };
  channels: ChannelRole;
  /** Output shapes from input shapes; undefined where unknown. */
  inferShape?: (ctx: ShapeContext) => (Shape | undefined)[];
  /** Output dtypes; default: the first input's dtype. */
  inferDType?: (ctx: ShapeContext) => (DType | undefined)[];
  /** Contents of small integer outputs (shape arithmetic), flattened, as numbers or symbolic dims; see `ShapeContext.values`. */
  inferValue?: (ctx: ShapeContext) => (Dim[] | undefined)[];
  /** Multiply-accumulate count for known shapes. */
  macs?: (node: Node, inShapes: (Shape | undefined)[], outShapes: (Shape | undefined)[]) => number;
}

/** Declares an op. @internal */
export function defineOp(
  spec: Omit<OpInfo, 'domain' | 'params' | 'channels' | 'attrs'> & Partial<Pick<OpInfo, 'domain' | 'params' | 'channels' | 'attrs'>>,
): OpInfo {
  return { domain: '', params: {}, channels: 'opaque', attrs: {}, ...spec };
}

/** Index of a named input in the spec list. @internal */
export function inputIndex(info: OpInfo, name: string): number {
  return info.inputs.findIndex((n) => n.replace(/^\.\.\./, '').replace(/\?$/, '') === name);
}

/** Product of known dims, or NaN. @internal */
export function numel(shape: Shape | undefined): number {
  if (shape === undefined) return NaN;
  let n = 1;
  for (const d of shape) n *= typeof d === 'number' ? d : NaN;
  return n;
}
