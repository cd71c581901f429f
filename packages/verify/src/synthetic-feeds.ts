import { filledTensor, type Model, namedInput, seededRandom, type Value } from '@mc/ir';
import type { Feeds } from './run-model.js';
import { assertFeedSize } from './random-feeds.js';

/** Options of {@link syntheticFeeds}. */
export interface SyntheticFeedOptions {
  /**
   * Pixel scale the model was trained with (`--scale`): float inputs are uniform in [0, 255·scale]. Default: [0, 1]
   * (the 1/255 every image loader in mc uses by default).
   */
  scale?: number;
  /** Size of symbolic or unknown dimensions (batch, sequence). Default 2. */
  dynamicDim?: number;
}

/** Exclusive upper bound of an integer input: the table size when it indexes a constant table (Gather), else 10. */
function intBound(v: Value): number {
  for (const u of v.uses()) {
    if (u.node.opType !== 'Gather' || namedInput(u.node, 'indices') !== v) continue;
    const data = namedInput(u.node, 'data')?.constValue;
    const axisAttr = u.node.attributes.get('axis');
    const axis = axisAttr?.type === 'INT' ? Number(axisAttr.value) : 0;
    const d = data?.dims[axis < 0 ? axis + data.dims.length : axis];
    if (d !== undefined && d > 0) return d;
  }
  return 10;
}

/**
 * Seeded inputs that respect each graph input's type and range, for verification without data: floats uniform in
 * [0, 1] (images as mc's loaders scale them) or [0, 255·scale]; integer inputs that index a constant table (token ids
 * into an embedding) uniform in [0, table size), other integers in [0, 10); bools 0/1. An input of another type
 * (float16, strings) gets none, and the caller says so.
 *
 * @example
 * ```ts
 * const feeds = syntheticFeeds(model, 0, { scale: 1 / 255 });
 * ```
 */
export function syntheticFeeds(model: Model, seed: number, opts: SyntheticFeedOptions = {}): Feeds {
  const feeds: Feeds = {};
  const hi = opts.scale === undefined ? 1 : 255 * opts.scale;
  let s = seed * 7919;
  for (const v of model.graph.inputs) {
    if (v.constValue !== undefined || model.graph.initializers.has(v.name)) continue;
    const dims = (v.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : (opts.dynamicDim ?? 2)));
    assertFeedSize(v.name, dims);
    const u = seededRandom(s++);
    const bound = intBound(v);
    const t = filledTensor(v.dtype ?? 'float32', dims, { float: () => u() * hi, int: () => Math.floor(u() * bound), uniform: u });
    if (t !== undefined) feeds[v.name] = t;
  }
  return feeds;
}
