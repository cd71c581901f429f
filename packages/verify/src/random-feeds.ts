import { McError, type Model } from '@mc/ir';
import { randomFeeds as irRandomFeeds } from '@mc/ir/testing';
import type { Feeds } from './run-model.js';

/**
 * Seeded random feeds for every graph input that is not an initializer (re-exported from `@mc/ir/testing` so
 * verification code needs one import).
 *
 * @example
 * ```ts
 * const feeds = randomFeeds(model, 0);
 * ```
 */
export function randomFeeds(model: Model, seed: number, opts: { dynamicDim?: number; scale?: number } = {}): Feeds {
  for (const v of model.graph.inputs) {
    if (v.constValue !== undefined) continue;
    assertFeedSize(
      v.name,
      (v.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : (opts.dynamicDim ?? 1))),
    );
  }
  return irRandomFeeds(model, seed, opts);
}

/** Largest input (elements) verification feeds are made for: 2^28 float32 values are 1 GiB. */
const MAX_FEED_ELEMENTS = 2 ** 28;

/**
 * A damaged or hostile file may declare an input of 10^15 elements: refuse before allocating (a RangeError otherwise).
 * @internal
 */
export function assertFeedSize(name: string, dims: readonly number[]): void {
  const size = dims.reduce((a, b) => a * b, 1);
  if (size > MAX_FEED_ELEMENTS) {
    throw new McError(
      'E_UNSUPPORTED',
      `graph input '${name}' declares shape [${dims.join(', ')}] (${size} elements), too large to make verification feeds (at most ${MAX_FEED_ELEMENTS}); fix the input shape in the model`,
    );
  }
}
