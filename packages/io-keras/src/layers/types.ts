import type { Node, Tensor, Value } from '@mc/ir';
import type { KerasLayerConfigJson } from '../keras-format.js';
import type { KVal, LowerContext } from '../lower-context.js';

/** The IR nodes one Keras layer call became, regrouped by their `keras.layer` tag. */
export interface LayerGroup {
  name: string;
  className: string;
  /** The config the layer had at import (from the tag). */
  config: KerasLayerConfigJson;
  module?: string;
  registeredName?: string | null;
  /** Nodes in graph order. */
  nodes: Node[];
}

/** What `fromIr` gets besides the group. */
export interface FromIrContext {
  /** The constant behind a value (initializer or Constant node), or undefined for a runtime value. */
  constant(v: Value | undefined): Tensor | undefined;
  /** Builds an error naming the layer and the file being written. */
  error(layer: string, what: string): Error;
  keras3: boolean;
}

/** One Keras layer produced by `fromIr`; layers returned together are chained, the first taking the group's inputs. */
export interface KerasLayerOut {
  className: string;
  name: string;
  config: KerasLayerConfigJson;
  /** In Keras `layer.weights` order, named as Keras names them (`kernel`, `bias`, `gamma`, ...). */
  weights: { name: string; tensor: Tensor }[];
  module?: string;
  registeredName?: string | null;
}

/**
 * A Keras layer class's two directions: lowering to ONNX ops in the IR, and regrouping IR nodes into layers.
 * `fromIr` returns undefined when the nodes are not a shape it can write (the writer then reports the layer).
 */
export interface LayerHandler {
  toIr(ctx: LowerContext): KVal[];
  fromIr?(group: LayerGroup, ctx: FromIrContext): KerasLayerOut[] | undefined;
}

/** Removes undefined fields (for `exactOptionalPropertyTypes`). @internal */
export function same(
  group: LayerGroup,
  weights: KerasLayerOut['weights'] = [],
  config: KerasLayerConfigJson = group.config,
): KerasLayerOut[] {
  const out: KerasLayerOut = { className: group.className, name: group.name, config, weights };
  if (group.module !== undefined) out.module = group.module;
  if (group.registeredName !== undefined) out.registeredName = group.registeredName;
  return [out];
}
