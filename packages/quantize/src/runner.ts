import { McError, type Model } from '@mc/ir';
import type { CalibrationRunner, Feeds } from './options.js';

/**
 * The built-in calibration runner: runs the model in onnxruntime-node through `@mc/verify`'s session (loaded on first
 * use, so modes that need no calibration never load it). `@mc/verify` (which brings onnxruntime-node) is an optional
 * peer dependency: a calibration without it fails with E_UNSUPPORTED telling to install it or pass a runner.
 *
 * Why a strategy and not a hard dependency: onnxruntime-node is ~290 MB with native binaries; fp16/int4/k-means users
 * should not pay for it, and a browser or a GPU runtime can calibrate through the same interface.
 * @example
 * await quantize(model, { mode: 'int8-static', calibration, runner: ortNodeRunner() });
 */
export function ortNodeRunner(sessionOptions: Record<string, unknown> = {}): CalibrationRunner {
  return {
    async open(model: Model) {
      let verify: typeof import('@mc/verify');
      try {
        verify = await import('@mc/verify');
      } catch (e) {
        throw new McError(
          'E_UNSUPPORTED',
          'calibration runs the model in onnxruntime-node through @mc/verify, which is not installed; install it (npm i @mc/verify) or pass options.runner',
          { cause: e },
        );
      }
      // One session whatever the model's size (no segments): the calibration outputs are intermediate tensors.
      const session = await verify.createSession(model, {
        graphOptimizationLevel: 'disabled',
        sessionOptions,
        segments: { above: Number.POSITIVE_INFINITY },
      });
      return {
        async run(feeds: Feeds, outputs: readonly string[]) {
          const res = await session.run(feeds, outputs);
          const out: Record<string, Float32Array> = {};
          for (const k of outputs) {
            const v = res[k];
            if (v !== undefined) out[k] = v.data as Float32Array;
          }
          return out;
        },
        close: () => session.release(),
      };
    },
  };
}
