import type { Model } from '@mc/ir';
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
  return irRandomFeeds(model, seed, opts);
}
