import { convOutDim, type Node, type Shape, type Tensor, type Value, resolvePads } from '@mc/ir';
import { attrsOf, type Emitter } from './emit.js';

// The shape of a reverse-mode rule of the onnxruntime engine and what rules of several op families share. The rules
// themselves: rules-linear.ts (Conv, Gemm, MatMul), rules-pool.ts (MaxPool, AveragePool, GlobalAveragePool) and
// rules.ts (elementwise, shape, Dropout, BatchNormalization, Concat, Clip; the table of all).

/** What a rule sees while the training graph is generated. @internal */
export interface OrtCtx {
  readonly e: Emitter;
  readonly node: Node;
  readonly training: boolean;
  readonly opset: number;
  /** Forward input `i` in the generated graph. */
  x(i: number): Value | undefined;
  /** Forward output `i` in the generated graph (backward only). */
  y(i: number): Value;
  /** Values the forward kept for the backward (outputs past the node's own), when it kept them. */
  saved(i: number): Value | undefined;
  /** Inferred shapes of the original node's inputs and outputs. */
  inShape(i: number): Shape | undefined;
  outShape(i: number): Shape | undefined;
  /** The constant behind input `i`, when there is one. */
  constant(i: number): Tensor | undefined;
  /** A float32 graph input for a dropout mask shaped like input 0 (training only). */
  dropoutMask(ratio: number): Value;
  /** Marks `v` as a graph output carrying a new value of the running statistic at input `i` (BatchNormalization). */
  stateOut(i: number, v: Value): void;
  /** Momentum of BatchNormalization running statistics when they are updated, else undefined (frozen). */
  readonly bnMomentum: number | undefined;
}

/** Reverse-mode rule for one ONNX op. @internal */
export interface OrtRule {
  /** Input slots whose float initializers are trained. */
  readonly trainable: readonly number[];
  /** The outputs are integers (Shape, Size): no gradient flows through the node. */
  readonly constant?: boolean;
  /** Why this node cannot be differentiated here; undefined when it can. */
  check?(node: Node, inShape: (i: number) => Shape | undefined, outShape: (i: number) => Shape | undefined): string | undefined;
  /** The forward in the generated graph: the node's outputs, then saved values. Default: a copy of the node. */
  forward?(ctx: OrtCtx): Value[];
  /** Gradients of the inputs from those of the outputs; `need[i]` says which inputs want one. */
  backward(ctx: OrtCtx, dy: readonly (Value | undefined)[], need: readonly boolean[]): (Value | undefined)[];
}

/** A copy of the node with its attributes. @internal */
export function copyForward(ctx: OrtCtx, outputs = ctx.node.outputs.length): Value[] {
  const ins = ctx.node.inputs.map((v, i) => (v === undefined || v.name === '' ? undefined : ctx.x(i)));
  return ctx.e.opN(ctx.node.opType, ins, attrsOf(ctx.node), outputs);
}

/** Whether the dims of `s` from `from` on are all known sizes. @internal */
export const known = (s: Shape | undefined, from = 1): s is readonly number[] =>
  s !== undefined && s.slice(from).every((d) => typeof d === 'number');

/** Conv geometry with SAME_* padding resolved to explicit pads (needs the spatial input size). @internal */
export function convGeometry(node: Node, x: Shape, w: Shape) {
  const k = node.attrInts('kernel_shape') ?? (w.slice(2) as number[]);
  const { strides, dilations, pads } = resolvePads(node, x.slice(2) as number[], k);
  const r = k.length;
  const out = k.map((kk, i) => convOutDim(x[i + 2] as number, kk, strides[i]!, dilations[i]!, pads[i]!, pads[i + r]!, 'NOTSET') as number);
  return { k, strides, dilations, pads, out, r };
}
