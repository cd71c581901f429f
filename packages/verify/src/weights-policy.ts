import { McError, type Model, toFloat32 } from '@mc/ir';

/** A weight holding NaN or ±Inf. */
export interface NonFiniteWeight {
  /** Initializer name. */
  tensor: string;
  /** First non-finite element (flat index) and its value. */
  index: number;
  value: number;
  /** How many elements are non-finite. */
  count: number;
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/**
 * Float initializers holding NaN or ±Inf, in graph order.
 *
 * @example
 * ```ts
 * nonFiniteWeights(model); // [{ tensor: 'conv1.weight', index: 3, value: NaN, count: 1 }]
 * ```
 */
export function nonFiniteWeights(model: Model): NonFiniteWeight[] {
  const out: NonFiniteWeight[] = [];
  for (const [name, v] of model.graph.initializers) {
    const t = v.constValue;
    if (t === undefined || !FLOATS.has(t.dtype) || t.size === 0) continue;
    const d = t.dtype === 'float64' ? (t.data as Float64Array) : toFloat32(t);
    let first = -1;
    let count = 0;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]!)) {
        if (first < 0) first = i;
        count++;
      }
    }
    if (first >= 0) out.push({ tensor: name, index: first, value: d[first]!, count });
  }
  return out;
}

/**
 * The non-finite weights policy of every transforming command: a model with NaN/Inf weights is refused before any
 * work, with `E_NUMERIC` naming the tensor and the fix (a transform of such a model cannot be verified: NaN outputs
 * agree with NaN outputs). Lossless conversion passes them through and only warns (see {@link nonFiniteWeights}).
 *
 * @example
 * ```ts
 * assertFiniteWeights(model, 'model.onnx'); // throws E_NUMERIC when a weight holds NaN/Inf
 * ```
 */
export function assertFiniteWeights(model: Model, file?: string): void {
  const bad = nonFiniteWeights(model);
  const first = bad[0];
  if (first === undefined) return;
  const more =
    bad.length > 1
      ? ` (and ${bad.length - 1} more tensor(s): ${bad
          .slice(1, 4)
          .map((b) => `'${b.tensor}'`)
          .join(', ')})`
      : '';
  throw new McError(
    'E_NUMERIC',
    `weight '${first.tensor}' holds ${first.value} at element ${first.index} (${first.count} non-finite value(s))${more}${file === undefined ? '' : ` in ${file}`}; a model with NaN/Inf weights cannot be transformed or verified — fix or retrain it (mc convert copies it unchanged)`,
    { context: { ...(file !== undefined && { file }) } },
  );
}
