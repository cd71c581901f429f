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

/** Registered knowledge about one op type. Spec names are ONNX's own (https://onnx.ai/onnx/operators/). */
export interface OpInfo {
  opType: string;
  domain: string;
  /** Input names in spec order; a trailing '?' marks optional, a leading '...' variadic. */
  inputs: readonly string[];
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
export function defineOp(spec: Omit<OpInfo, 'domain' | 'params' | 'channels'> & Partial<Pick<OpInfo, 'domain' | 'params' | 'channels'>>): OpInfo {
  return { domain: '', params: {}, channels: 'opaque', ...spec };
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
