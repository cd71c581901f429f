import type { Tensor } from '@mc/ir';
import type { JsonValue, KerasLayerConfigJson } from './keras-format.js';

/** A layer output: `layer` called for the `node`-th time, its `tensor`-th output. */
export interface KerasTensorRef {
  layer: string;
  node: number;
  tensor: number;
}

/** One call of a layer (a Keras "inbound node"). */
export interface KerasCall {
  inputs: KerasTensorRef[];
  kwargs: Record<string, JsonValue>;
}

/**
 * A layer of a model with the Sequential/Functional/Keras 2/Keras 3 differences resolved: calls as explicit refs and
 * weights as tensors in the layer's own order (Keras `layer.weights`).
 */
export interface KerasLayer {
  className: string;
  name: string;
  config: KerasLayerConfigJson;
  /** Keras 3 `module` / `registered_name`, kept so an opaque layer is written back verbatim. */
  module?: string;
  registeredName?: string | null;
  calls: KerasCall[];
  weights: Tensor[];
  /** Weight names as stored (`dense/kernel:0`, `kernel`, `vars/0`). */
  weightNames: string[];
}

/** A whole model in a format-neutral form, between the file readers/writers and the IR lowering. */
export interface KerasGraph {
  name: string;
  layers: KerasLayer[];
  inputs: KerasTensorRef[];
  outputs: KerasTensorRef[];
  kerasVersion?: string;
  backend?: string;
  /** `Sequential` models keep the class so writing back keeps the structure. */
  className: 'Sequential' | 'Functional';
}

/** `"layer:node:tensor"`, the key of a layer output. @internal */
export function refKey(r: KerasTensorRef): string {
  return `${r.layer}:${r.node}:${r.tensor}`;
}
