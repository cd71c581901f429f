import type { DType } from '../dtype.js';
import type { Model } from '../model.js';
import { McError } from '../errors.js';
import { filledTensor, seededNormal, seededRandom } from '../random.js';
import type { Tensor } from '../tensor.js';

export { seededNormal, seededRandom } from '../random.js';

/**
 * A random tensor: floats ~ N(0,1)·scale, integers uniform in [0, 10), bools 0/1.
 *
 * @example
 * ```ts
 * randomTensor('float32', [2, 3], 7);
 * ```
 */
export function randomTensor(dtype: DType, dims: readonly number[], seed: number, scale = 1): Tensor {
  const u = seededRandom(seed);
  const g = seededNormal(seed);
  const t = filledTensor(dtype, dims, { float: () => g() * scale, int: () => Math.floor(u() * 10), uniform: u });
  if (t === undefined) throw new Error(`randomTensor: ${dtype} not supported`);
  return t;
}

/**
 * Random feeds for every graph input that is not an initializer; symbolic/unknown dims become `dynamicDim` (1).
 *
 * @example
 * ```ts
 * const feeds = randomFeeds(model, 0);
 * ```
 */
export function randomFeeds(model: Model, seed: number, opts: { dynamicDim?: number; scale?: number } = {}): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  let s = seed;
  for (const v of model.graph.inputs) {
    if (v.constValue !== undefined) continue;
    const dims = (v.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : (opts.dynamicDim ?? 1)));
    feeds[v.name] = randomTensor(v.dtype ?? 'float32', dims, s++, opts.scale ?? 1);
  }
  return feeds;
}

/**
 * Node counts by op type (`domain::op` for non-default domains), e.g. `{Conv: 2, QuantizeLinear: 3}`.
 *
 * @example
 * ```ts
 * expect(countOps(model)).toMatchObject({ QuantizeLinear: 2 });
 * ```
 */
export function countOps(model: Model): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of model.graph.nodes) {
    const k = n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}::${n.opType}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/**
 * How a promise settled, for error tests: `'E_CODE: message'` for an McError, `'no error'` when it resolved; any
 * other exception is re-thrown (a bug, not a coded error).
 *
 * @example
 * ```ts
 * expect(await errorOf(quantize(m, { mode: 'int8-static' }))).toMatch(/^E_OPTION: .*calibration/);
 * ```
 */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (McError.is(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}
