import { McError, type Model } from '@mc/ir';
import type { CalibrationRunner, Feeds } from './options.js';

/**
 * The built-in calibration runner: serializes the model with `@mc/io-onnx` and runs it in onnxruntime-node (both
 * loaded on first use, so modes that need no calibration never load them). onnxruntime-node is an optional peer
 * dependency: a static quantization without it fails with E_UNSUPPORTED telling to install it or pass a runner.
 *
 * Why a strategy and not a hard dependency: onnxruntime-node is ~290 MB with native binaries; fp16/int4/k-means users
 * should not pay for it, and a browser or a GPU runtime can calibrate through the same interface.
 * @example
 * await quantize(model, { mode: 'int8-static', calibration, runner: ortNodeRunner() });
 */
export function ortNodeRunner(sessionOptions: Record<string, unknown> = {}): CalibrationRunner {
  return {
    async open(model: Model) {
      let ort: typeof import('onnxruntime-node');
      let io: typeof import('@mc/io-onnx');
      try {
        ort = await import('onnxruntime-node');
        io = await import('@mc/io-onnx');
      } catch (e) {
        throw new McError(
          'E_UNSUPPORTED',
          'int8-static calibration needs onnxruntime-node and @mc/io-onnx; install them (npm i onnxruntime-node @mc/io-onnx) or pass options.runner',
          { cause: e },
        );
      }
      const bytes = io.writeOnnx(model);
      // No /tmp/mat-debug-<pid>.log from onnxruntime-node's telemetry client (see @mc/verify run-model.ts).
      process.env.ORT_DISABLE_TELEMETRY ??= '1';
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled', ...sessionOptions });
      return {
        async run(feeds: Feeds, outputs: readonly string[]) {
          const inputs: Record<string, import('onnxruntime-node').Tensor> = {};
          for (const [k, t] of Object.entries(feeds)) inputs[k] = new ort.Tensor(t.dtype as 'float32', t.data as Float32Array, [...t.dims]);
          const res = await session.run(inputs, outputs as string[]);
          const out: Record<string, Float32Array> = {};
          for (const k of outputs) {
            const v = res[k];
            if (v !== undefined) out[k] = v.data as Float32Array;
          }
          return out;
        },
        async close() {
          await session.release();
        },
      };
    },
  };
}
