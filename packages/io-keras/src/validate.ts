import { McError } from '@mc/ir';
import { isObject } from './keras-format.js';

/**
 * Shape checks for the JSON mc reads from Keras and TF.js files, run at each reader's boundary before any field is
 * used. A malformed field is an `E_FORMAT` error naming the file, the field as a JSON path
 * (`weightsManifest[0].weights[3].shape[1]`) and what was expected, so hostile or damaged files never reach code
 * that assumes the documented shapes (tensor constructors, the protobuf encoder) and fail there as internal errors.
 */

/** The dtypes a TF.js weights manifest may declare (`tfjs-core/src/io/types.ts` `WeightsManifestEntry.dtype`). */
const TFJS_DTYPES = new Set(['float32', 'int32', 'bool', 'string', 'complex64']);
/** TF.js quantized storage dtypes (`WeightsManifestEntry.quantization.dtype`). */
const TFJS_QUANT_DTYPES = new Set(['uint8', 'uint16', 'float16']);

/** A JSON path one level deeper: `a.b` for a key, `a[3]` for an index. @internal */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** A short description of a JSON value for messages (`the string "abc"`, `the number 1.5`, `an array`). @internal */
export function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing (the field is missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `the ${typeof v} ${String(v)}`;
}

/** Throws the E_FORMAT error for one malformed field. @internal */
export function badField(file: string, path: string, expected: string, got: unknown): never {
  throw new McError(
    'E_FORMAT',
    `'${file}' field ${path || '(root)'} is ${describeJson(got)}, expected ${expected}; the file is damaged or was not written by Keras/TF.js: re-export the model`,
    { context: { file } },
  );
}

/** `v` as a string, else E_FORMAT. @internal */
export function expectString(v: unknown, file: string, path: string): string {
  if (typeof v !== 'string') badField(file, path, 'a string', v);
  return v;
}

/** `v` as an array, else E_FORMAT. @internal */
export function expectArray(v: unknown, file: string, path: string): unknown[] {
  if (!Array.isArray(v)) badField(file, path, 'an array', v);
  return v;
}

/** `v` as a plain object, else E_FORMAT. @internal */
export function expectObject(v: unknown, file: string, path: string): Record<string, unknown> {
  if (!isObject(v)) badField(file, path, 'an object', v);
  return v;
}

/** `v` as a non-negative safe integer (a dimension, an index), else E_FORMAT. @internal */
export function expectDim(v: unknown, file: string, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) badField(file, path, 'a non-negative integer', v);
  return v;
}

/** A finite number, else E_FORMAT. @internal */
export function expectNumber(v: unknown, file: string, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) badField(file, path, 'a finite number', v);
  return v;
}

function optional<T>(
  o: Record<string, unknown>,
  key: string,
  check: (v: unknown, file: string, path: string) => T,
  file: string,
  path: string,
): void {
  if (o[key] !== undefined) check(o[key], file, at(path, key));
}

/**
 * Checks a TF.js `weightsManifest`: an array of `{paths: string[], weights: [{name, shape, dtype, quantization?}]}`,
 * shapes of non-negative safe integers, dtypes in the TF.js set, quantization `{dtype, scale?, min?, original_dtype?}`.
 * @internal
 */
export function validateTfjsManifest(manifest: unknown, file: string): void {
  if (manifest === undefined) return;
  const groups = expectArray(manifest, file, 'weightsManifest');
  groups.forEach((g, gi) => {
    const gp = at('weightsManifest', gi);
    const group = expectObject(g, file, gp);
    expectArray(group.paths, file, at(gp, 'paths')).forEach((p, pi) => expectString(p, file, at(at(gp, 'paths'), pi)));
    expectArray(group.weights, file, at(gp, 'weights')).forEach((w, wi) => {
      const wp = at(at(gp, 'weights'), wi);
      const spec = expectObject(w, file, wp);
      expectString(spec.name, file, at(wp, 'name'));
      let size = 1;
      expectArray(spec.shape, file, at(wp, 'shape')).forEach((d, di) => (size *= expectDim(d, file, at(at(wp, 'shape'), di))));
      if (!Number.isSafeInteger(size)) badField(file, at(wp, 'shape'), 'a shape whose element count is a safe integer', spec.shape);
      if (typeof spec.dtype !== 'string' || !TFJS_DTYPES.has(spec.dtype))
        badField(file, at(wp, 'dtype'), `one of ${[...TFJS_DTYPES].join(', ')}`, spec.dtype);
      if (spec.quantization !== undefined) {
        const qp = at(wp, 'quantization');
        const q = expectObject(spec.quantization, file, qp);
        if (typeof q.dtype !== 'string' || !TFJS_QUANT_DTYPES.has(q.dtype))
          badField(file, at(qp, 'dtype'), `one of ${[...TFJS_QUANT_DTYPES].join(', ')}`, q.dtype);
        optional(q, 'scale', expectNumber, file, qp);
        optional(q, 'min', expectNumber, file, qp);
        if (q.original_dtype !== undefined && q.original_dtype !== 'float32' && q.original_dtype !== 'int32')
          badField(file, at(qp, 'original_dtype'), 'float32 or int32', q.original_dtype);
      }
    });
  });
}

/** A Keras shape list: non-negative integers or null (unknown). @internal */
function validateShape(v: unknown, file: string, path: string): void {
  expectArray(v, file, path).forEach((d, i) => {
    if (d !== null) expectDim(d, file, at(path, i));
  });
}

/** `[layer_name, node_index, tensor_index, kwargs?]`. */
function validateRef(v: unknown, file: string, path: string): void {
  const r = expectArray(v, file, path);
  if (r.length < 3) badField(file, path, 'a [layer_name, node_index, tensor_index] reference', v);
  expectString(r[0], file, at(path, 0));
  expectDim(r[1], file, at(path, 1));
  expectDim(r[2], file, at(path, 2));
  if (r[3] !== undefined) expectObject(r[3], file, at(path, 3));
}

/** `input_layers` / `output_layers`: one ref (Keras 3, single input) or a list of refs. */
function validateRefList(v: unknown, file: string, path: string): void {
  if (!Array.isArray(v)) return; // a dict of inputs (Keras 3) is not read as refs
  const a = v;
  if (a.length === 3 && typeof a[0] === 'string') validateRef(a, file, path);
  else a.forEach((r, i) => validateRef(r, file, at(path, i)));
}

/** Keras 3 call arguments: any JSON, where every `__keras_tensor__` carries a valid `keras_history`. */
function validateKerasTensors(v: unknown, file: string, path: string, depth = 0): void {
  if (depth > 64) badField(file, path, 'call arguments nested at most 64 levels deep', v);
  if (Array.isArray(v)) v.forEach((x, i) => validateKerasTensors(x, file, at(path, i), depth + 1));
  else if (isObject(v)) {
    if (v.class_name === '__keras_tensor__') {
      const cfg = expectObject(v.config, file, at(path, 'config'));
      validateRef(cfg.keras_history, file, at(at(path, 'config'), 'keras_history'));
      return;
    }
    for (const [k, x] of Object.entries(v)) validateKerasTensors(x, file, at(path, k), depth + 1);
  }
}

function validateInbound(v: unknown, file: string, path: string): void {
  expectArray(v, file, path).forEach((n, i) => {
    const np = at(path, i);
    if (Array.isArray(n)) n.forEach((r, ri) => validateRef(r, file, at(np, ri)));
    else if (isObject(n)) {
      validateKerasTensors(expectArray(n.args, file, at(np, 'args')), file, at(np, 'args'));
      if (n.kwargs !== undefined) validateKerasTensors(expectObject(n.kwargs, file, at(np, 'kwargs')), file, at(np, 'kwargs'));
    } else badField(file, np, 'a list of [layer, node, tensor] references or an {args, kwargs} object', n);
  });
}

/** One entry of a `layers` list (recursing into nested models). */
function validateLayer(v: unknown, file: string, path: string, depth: number): void {
  const l = expectObject(v, file, path);
  const className = expectString(l.class_name, file, at(path, 'class_name'));
  const cp = at(path, 'config');
  if (l.name !== undefined) expectString(l.name, file, at(path, 'name'));
  if (l.module !== undefined) expectString(l.module, file, at(path, 'module'));
  if (l.registered_name !== undefined && l.registered_name !== null) expectString(l.registered_name, file, at(path, 'registered_name'));
  if (l.inbound_nodes !== undefined) validateInbound(l.inbound_nodes, file, at(path, 'inbound_nodes'));
  if (className === 'Sequential' || className === 'Functional' || className === 'Model') {
    validateModelConfig(l.config, file, cp, depth + 1);
    return;
  }
  const cfg = expectObject(l.config, file, cp);
  if (cfg.name !== undefined) expectString(cfg.name, file, at(cp, 'name'));
  if (l.name === undefined) expectString(cfg.name, file, at(cp, 'name'));
  if (cfg.batch_input_shape !== undefined && cfg.batch_input_shape !== null)
    validateShape(cfg.batch_input_shape, file, at(cp, 'batch_input_shape'));
  if (cfg.batch_shape !== undefined && cfg.batch_shape !== null) validateShape(cfg.batch_shape, file, at(cp, 'batch_shape'));
}

/** A model's `config`: an old-style list of layers, or `{name?, layers, input_layers?, output_layers?}`. */
function validateModelConfig(v: unknown, file: string, path: string, depth: number): void {
  if (depth > 32) badField(file, path, 'models nested at most 32 levels deep', v);
  if (Array.isArray(v)) {
    v.forEach((l, i) => validateLayer(l, file, at(path, i), depth));
    return;
  }
  const cfg = expectObject(v, file, path);
  if (cfg.name !== undefined) expectString(cfg.name, file, at(path, 'name'));
  expectArray(cfg.layers, file, at(path, 'layers')).forEach((l, i) => validateLayer(l, file, at(at(path, 'layers'), i), depth));
  if (cfg.input_layers !== undefined) validateRefList(cfg.input_layers, file, at(path, 'input_layers'));
  if (cfg.output_layers !== undefined) validateRefList(cfg.output_layers, file, at(path, 'output_layers'));
  if (cfg.build_input_shape !== undefined && cfg.build_input_shape !== null && Array.isArray(cfg.build_input_shape)) {
    validateShape(cfg.build_input_shape, file, at(path, 'build_input_shape'));
  }
}

/**
 * Checks a Keras model config (h5 `model_config`, `.keras` `config.json`, TF.js `modelTopology`) before it is
 * normalized: `class_name` a string, `config` a layers list or an object with a `layers` array, every layer an object
 * with a string `class_name` and an object `config`, inbound nodes as references, shapes of non-negative integers.
 * `root` is the JSON path of the config inside its file (`modelTopology.model_config` in a TF.js model.json).
 * @internal
 */
export function validateKerasModel(json: unknown, file: string, root = ''): void {
  const m = expectObject(json, file, root);
  expectString(m.class_name, file, at(root, 'class_name'));
  if (m.keras_version !== undefined) expectString(m.keras_version, file, at(root, 'keras_version'));
  if (m.backend !== undefined) expectString(m.backend, file, at(root, 'backend'));
  validateModelConfig(m.config, file, at(root, 'config'), 0);
}
