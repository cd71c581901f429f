import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerOptions } from './options.js';

/**
 * Adam / SGD-momentum over named variables, with fixed masks re-applied after each update so masked weights stay
 * exactly zero. Written out (not tf.train.*) so the learning rate can change every step and state is explicit.
 * @internal
 */
export class Optimizer {
  readonly #slots = new Map<string, tf.Variable[]>();
  #t = 0;
  constructor(
    readonly opts: OptimizerOptions,
    readonly weightDecay: number,
    readonly masks: ReadonlyMap<string, tf.Tensor>,
  ) {}

  apply(vars: ReadonlyMap<string, tf.Variable>, grads: tf.NamedTensorMap, lr: number): void {
    this.#t++;
    const t = this.#t;
    tf.tidy(() => {
      for (const [name, w] of vars) {
        let g = grads[w.name]; // keyed by the tf.Variable's own name
        if (g === undefined) continue;
        if (this.weightDecay > 0) g = tf.add(g, tf.mul(w, this.weightDecay));
        const mask = this.masks.get(name);
        if (mask !== undefined) g = tf.mul(g, mask);
        let slots = this.#slots.get(name);
        if (slots === undefined) {
          const n = this.opts.type === 'adam' ? 2 : 1;
          slots = Array.from({ length: n }, () => tf.variable(tf.zerosLike(w), false));
          this.#slots.set(name, slots);
        }
        let update: tf.Tensor;
        if (this.opts.type === 'adam') {
          const b1 = this.opts.beta1 ?? 0.9;
          const b2 = this.opts.beta2 ?? 0.999;
          const eps = this.opts.epsilon ?? 1e-8;
          const [m, v] = slots as [tf.Variable, tf.Variable];
          m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
          v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
          const step = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
          update = tf.mul(tf.div(m, tf.add(tf.sqrt(v), eps * Math.sqrt(1 - b2 ** t))), step);
        } else {
          const mu = this.opts.momentum ?? 0.9;
          const [buf] = slots as [tf.Variable];
          buf.assign(tf.add(tf.mul(buf, mu), g));
          update = tf.mul(this.opts.nesterov ? tf.add(g, tf.mul(buf, mu)) : buf, lr);
        }
        let next = tf.sub(w, update);
        if (mask !== undefined) next = tf.mul(next, mask);
        w.assign(next);
      }
    });
  }

  dispose(): void {
    for (const s of this.#slots.values()) for (const v of s) v.dispose();
    this.#slots.clear();
  }
}

/** Learning rate at (epoch, fraction of epoch done). @internal */
export function scheduledLr(
  base: number,
  schedule: import('./options.js').ScheduleOptions,
  epoch: number,
  frac: number,
  epochs: number,
): number {
  if (schedule === 'constant') return base;
  if (schedule === 'cosine') return 0.5 * base * (1 + Math.cos((Math.PI * (epoch + frac)) / epochs));
  if (schedule.type === 'step') return base * schedule.gamma ** Math.floor(epoch / schedule.every);
  return base * schedule.gamma ** epoch;
}
