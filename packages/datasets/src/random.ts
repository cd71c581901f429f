import { seededRandom as mulberry32 } from '@mc/ir';

/**
 * A small seeded generator (mulberry32 from `@mc/ir`, with the seed mixed by the golden ratio so dataset streams differ
 * from other users of the same seed): the same seed gives the same shuffles and augmentations on every machine.
 *
 * @example
 * ```ts
 * const rnd = seededRandom(42);
 * rnd(); // in [0, 1)
 * ```
 */
export function seededRandom(seed: number): () => number {
  return mulberry32((seed >>> 0) ^ 0x9e3779b9);
}

/**
 * A seeded permutation of `0..n-1` (Fisher–Yates).
 *
 * @example
 * ```ts
 * permutation(5, 1); // e.g. Int32Array [3, 0, 4, 1, 2], the same for seed 1 every time
 * ```
 */
export function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const rnd = seededRandom(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
