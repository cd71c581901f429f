import type { Feeds, Model, Tensor } from '@mc/ir';
import { writeOnnx } from '@mc/io-onnx';
import { feedsToOrt, type OrtTensorClass, outputsFromOrt } from './ort-tensor.js';
import { type ModelSession, sessionOver } from './run-model.js';

/**
 * Opens an onnxruntime-web session (wasm backend, one thread) for a model, in Node: the runtime a browser page runs
 * the file in, behind the same {@link ModelSession} as `createSession`. onnxruntime-web is loaded on first use.
 *
 * @example
 * ```ts
 * const s = await createWebSession(model);
 * const out = await s.run(feeds);
 * await s.release();
 * ```
 */
export async function createWebSession(model: Model | Uint8Array): Promise<ModelSession> {
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  const session = await web.InferenceSession.create(model instanceof Uint8Array ? model : writeOnnx(model), {
    executionProviders: ['wasm'],
  });
  const OrtTensor: OrtTensorClass = web.Tensor;
  const run = async (feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, Tensor>> => {
    const f = feedsToOrt(feeds, OrtTensor);
    const res = outputs === undefined ? await session.run(f) : await session.run(f, [...outputs]);
    return outputsFromOrt(res, outputs ?? session.outputNames);
  };
  return sessionOver(session, run);
}
