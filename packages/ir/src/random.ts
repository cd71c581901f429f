// Seeded generators: the same seed gives the same numbers on every machine (k-means++ seeding, sketches,
// shuffles, test data), which Math.random cannot.

/**
 * A seeded uniform random generator in [0, 1) (mulberry32): same seed, same sequence.
 *
 * @example
 * ```ts
 * const rand = seededRandom(42); rand(); // 0.6011...
 * ```
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A standard-normal seeded generator (Box–Muller over {@link seededRandom}).
 *
 * @example
 * ```ts
 * const randn = seededNormal(1); randn();
 * ```
 */
export function seededNormal(seed: number): () => number {
  const u = seededRandom(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}
