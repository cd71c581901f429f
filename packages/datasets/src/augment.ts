import type { Dataset } from './dataset.js';

/**
 * Seeded augmentation of one image.
 *
 * @example
 * ```ts
 * const a: AugmentOptions = { crop: 4, flip: true }; // CIFAR-style: pad 4, random 32×32 crop, random mirror
 * ```
 */
export interface AugmentOptions {
  /** Zero-pad each side by this many pixels and take a random crop of the original size. */
  crop?: number;
  /** Mirror left-right with probability 1/2. */
  flip?: boolean;
}

/** @internal Applies {@link AugmentOptions} to a C,H,W sample; returns a new array (or the input when nothing applies). */
export function augmentSample(src: Float32Array, C: number, H: number, W: number, opts: AugmentOptions, rnd: () => number): Float32Array {
  const pad = opts.crop ?? 0;
  // Draw the random numbers in a fixed order whatever applies, so enabling one option never shifts the other's stream.
  const oy = Math.floor(rnd() * (2 * pad + 1)) - pad;
  const ox = Math.floor(rnd() * (2 * pad + 1)) - pad;
  const flip = rnd() < 0.5 && opts.flip === true;
  if (pad === 0 && !flip) return src;
  const out = new Float32Array(src.length);
  for (let c = 0; c < C; c++) {
    const base = c * H * W;
    for (let y = 0; y < H; y++) {
      const sy = y + oy;
      if (sy < 0 || sy >= H) continue;
      for (let x = 0; x < W; x++) {
        const tx = flip ? W - 1 - x : x;
        const sx = tx + ox;
        if (sx < 0 || sx >= W) continue;
        out[base + y * W + x] = src[base + sy * W + sx]!;
      }
    }
  }
  return out;
}

/**
 * The augmentation a training recipe uses on a dataset when the caller names none: CIFAR-10 gets the standard pad-4
 * random crop and mirror (its classes are mirror-symmetric); MNIST and `.npy` data get none (a mirrored digit is
 * another glyph, and nothing is known about arbitrary arrays).
 *
 * @example
 * ```ts
 * augmentFor(await loadCifar10(dir)); // { crop: 4, flip: true }
 * ```
 */
export function augmentFor(data: Pick<Dataset, 'name'>): AugmentOptions | undefined {
  return data.name.startsWith('cifar10') ? { crop: 4, flip: true } : undefined;
}
