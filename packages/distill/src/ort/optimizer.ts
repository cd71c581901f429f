import type { OptimizerOptions } from '../options.js';

/**
 * Adam / SGD-momentum on Float32Arrays, in place, with the same update rules as the tfjs {@link Optimizer}
 * (PyTorch's): coupled weight decay, masks applied to the gradient and again to the updated weight.
 * @internal
 */
export class ArrayOptimizer {
  readonly #slots = new Map<string, Float32Array[]>();
  #t = 0;
  constructor(
    readonly opts: OptimizerOptions,
    readonly weightDecay: number,
    readonly masks: ReadonlyMap<string, Float32Array>,
  ) {}

  /** One step over every (weight, gradient) pair; weights are updated in place. */
  apply(params: ReadonlyMap<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr: number): void {
    this.#t++;
    const t = this.#t;
    for (const [name, w] of params) {
      const g = grads.get(name);
      if (g === undefined) continue;
      const mask = this.masks.get(name);
      const wd = this.weightDecay;
      let slots = this.#slots.get(name);
      if (slots === undefined) {
        slots = Array.from({ length: this.opts.type === 'adam' ? 2 : 1 }, () => new Float32Array(w.length));
        this.#slots.set(name, slots);
      }
      if (this.opts.type === 'adam') {
        const b1 = this.opts.beta1 ?? 0.9;
        const b2 = this.opts.beta2 ?? 0.999;
        const eps = (this.opts.epsilon ?? 1e-8) * Math.sqrt(1 - b2 ** t);
        const step = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
        const [m, v] = slots as [Float32Array, Float32Array];
        for (let i = 0; i < w.length; i++) {
          let gi = g[i]!;
          if (wd > 0) gi += wd * w[i]!;
          if (mask !== undefined) gi *= mask[i]!;
          m[i] = m[i]! * b1 + gi * (1 - b1);
          v[i] = v[i]! * b2 + gi * gi * (1 - b2);
          const next = w[i]! - (m[i]! / (Math.sqrt(v[i]!) + eps)) * step;
          w[i] = mask === undefined ? next : next * mask[i]!;
        }
      } else {
        const mu = this.opts.momentum ?? 0.9;
        const nesterov = this.opts.nesterov === true;
        const [buf] = slots as [Float32Array];
        for (let i = 0; i < w.length; i++) {
          let gi = g[i]!;
          if (wd > 0) gi += wd * w[i]!;
          if (mask !== undefined) gi *= mask[i]!;
          buf[i] = buf[i]! * mu + gi;
          const next = w[i]! - (nesterov ? gi + buf[i]! * mu : buf[i]!) * lr;
          w[i] = mask === undefined ? next : next * mask[i]!;
        }
      }
    }
  }
}
