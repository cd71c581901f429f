import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients, and its `dist/register_all_gradients.js` is ESM without file extensions
// that plain Node cannot load; the union package's Node bundle registers them all (into tfjs's global registry).
import '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { McError } from '@mc/ir';
import { registerTrainingKernels } from './kernels/conv-grad.js';

let ready: Promise<string> | undefined;

/**
 * Starts the tfjs wasm backend (SIMD, single thread) from the installed package's own `.wasm` files, so nothing is
 * downloaded, and registers the gradient kernels stock wasm lacks. Safe to call many times.
 *
 * @example
 * ```ts
 * await initTraining(); // 'wasm'
 * ```
 */
export function initTraining(backend: 'wasm' | 'cpu' = 'wasm'): Promise<string> {
  if (ready !== undefined && tf.getBackend() === backend) return ready;
  ready = (async () => {
    // PROD silences tfjs's console hints (libraries never print); threads need Web Workers that Node lacks.
    tf.env().set('PROD', true);
    if (backend === 'wasm') {
      tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      const require = createRequire(import.meta.url);
      const dist = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
      setWasmPaths(`${dist}/`);
    }
    registerTrainingKernels();
    const ok = await tf.setBackend(backend);
    if (!ok) {
      throw new McError(
        'E_UNSUPPORTED',
        `tfjs backend '${backend}' failed to start; check that @tensorflow/tfjs-backend-${backend} is installed`,
      );
    }
    await tf.ready();
    return tf.getBackend();
  })();
  return ready;
}
