import { seededRandom } from '@mc/ir';

/** Seeded uniform numbers in [0, 1) (mulberry32, from `@mc/ir`). @internal */
export const mulberry32 = seededRandom;

/** `count` standard normal samples from `seed`. @internal */
export function gaussian(count: number, seed: number): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - rnd();
    const u2 = rnd();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
