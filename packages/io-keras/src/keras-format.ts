/**
 * Types mirroring the Keras and TF.js files on disk. Field names keep the files' own snake_case (Keras) and camelCase
 * (TF.js `model.json`) spelling, so a reader can hold the parsed JSON as is (anchor: tfjs-layers `keras_format/`).
 *
 * Keras 2 (`model.to_json()`, h5 `model_config`), tf.keras, Keras 3 (`config.json` in a `.keras` zip, legacy h5) and
 * the TF.js layers format all share this shape; the differences (list-style Sequential, `batch_shape` vs
 * `batch_input_shape`, `inbound_nodes` as lists or as `{args, kwargs}`) are resolved by `normalize.ts`.
 */

/** A JSON value as found in a Keras config. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** A layer's `config` object: `name` plus class-specific fields (`units`, `kernel_size`, ...). */
export interface KerasLayerConfigJson {
  name?: string;
  trainable?: boolean;
  dtype?: JsonValue;
  batch_input_shape?: (number | null)[];
  batch_shape?: (number | null)[];
  [field: string]: JsonValue | undefined;
}

/** Keras 2 / TF.js inbound node: a list of `[layer_name, node_index, tensor_index, kwargs?]`. */
export type KerasInboundNodeK2Json = [string, number, number, Record<string, JsonValue>?][];

/** Keras 3 inbound node: call arguments with `__keras_tensor__` placeholders carrying `keras_history`. */
export interface KerasInboundNodeK3Json {
  args: JsonValue[];
  kwargs: Record<string, JsonValue>;
}

/** One entry of a model's `layers` list. */
export interface KerasLayerJson {
  class_name: string;
  config: KerasLayerConfigJson;
  /** Functional models repeat the layer name here. */
  name?: string;
  inbound_nodes?: (KerasInboundNodeK2Json | KerasInboundNodeK3Json)[];
  /** Keras 3: the Python module (`keras.layers`, `qkeras.qlayers`). */
  module?: string;
  /** Keras 3: `package>Class` for custom objects, `null` for built-ins. */
  registered_name?: string | null;
  /** Keras 3: the input shape the layer was built with. */
  build_config?: { input_shape?: JsonValue; [k: string]: JsonValue | undefined };
  [field: string]: unknown;
}

/** `[layer_name, node_index, tensor_index]`. */
export type KerasTensorRefJson = [string, number, number];

/** The `config` of a Functional model (`Model`, `Functional`) or a new-style Sequential. */
export interface KerasModelInnerConfigJson {
  name?: string;
  layers: KerasLayerJson[];
  /** Functional only. Keras 3 writes a single ref without the outer list when there is one input. */
  input_layers?: KerasTensorRefJson[] | KerasTensorRefJson;
  output_layers?: KerasTensorRefJson[] | KerasTensorRefJson;
  build_input_shape?: JsonValue;
  [field: string]: unknown;
}

/** A whole model config: h5 root attribute `model_config`, `config.json`, `model.to_json()`, TF.js `model_config`. */
export interface KerasModelJson {
  class_name: string;
  /** Old Sequential (Keras <= 2.2.4) is a bare list of layers. */
  config: KerasLayerJson[] | KerasModelInnerConfigJson;
  keras_version?: string;
  backend?: string;
  module?: string;
  registered_name?: string | null;
  build_config?: JsonValue;
  compile_config?: JsonValue;
  [field: string]: unknown;
}

/** Keras 3 `.keras` zip `metadata.json`. */
export interface KerasMetadataJson {
  keras_version?: string;
  date_saved?: string;
  [field: string]: JsonValue | undefined;
}

/** TF.js weight quantization (`tfjs-core/src/io/types.ts` `WeightsManifestEntry.quantization`). */
export interface TfjsQuantizationJson {
  dtype: 'uint8' | 'uint16' | 'float16';
  /** Affine uint8/uint16: value = q * scale + min. */
  scale?: number;
  min?: number;
  original_dtype?: 'float32' | 'int32';
}

/** One weight in a TF.js `weightsManifest` group; the bytes are concatenated across the group's shard files. */
export interface TfjsWeightSpecJson {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32' | 'bool' | 'string' | 'complex64';
  quantization?: TfjsQuantizationJson;
  group?: string;
}

/** A group of weights stored in one or more shard files. */
export interface TfjsWeightsGroupJson {
  paths: string[];
  weights: TfjsWeightSpecJson[];
}

/** A TF.js layers `model.json`. `modelTopology` is either a Keras model config or `{keras_version, backend, model_config}`. */
export interface TfjsModelJson {
  modelTopology: KerasModelJson | { keras_version?: string; backend?: string; model_config: KerasModelJson; training_config?: JsonValue };
  weightsManifest?: TfjsWeightsGroupJson[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  [field: string]: unknown;
}

/** True for a plain JSON object. @internal */
export function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
