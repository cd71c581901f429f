/**
 * Where the big products of the randomized SVD run. Measured here (4096x1024 · 1024x74, MEASURED.md §5 and
 * bench/out/lowrank.md): the blocked JS matmul does ~2.5 GFLOP/s in f64; tfjs-backend-wasm (XNNPACK, SIMD) ~6-10x
 * more in f32. The wasm engine is optional: loaded lazily when installed, else everything stays in JS.
 */
import { matmul, transpose } from './matmul.js';

/** A matrix bound to an engine, multiplied many times (the sketch and power iterations reuse A). */
export interface BoundMatrix {
  /** A·B with B [n, l] → [m, l] */
  mul(b: Float64Array, l: number): Float64Array;
  /** Aᵀ·B with B [m, l] → [n, l] */
  tmul(b: Float64Array, l: number): Float64Array;
  dispose(): void;
}

/** A matmul backend for {@link rsvd}. */
export interface MatmulEngine {
  readonly name: 'js' | 'tfjs-wasm';
  /** float precision of the products */
  readonly precision: 'float64' | 'float32';
  bind(a: Float64Array, m: number, n: number): BoundMatrix;
}

/** The pure-JS f64 engine (default). @example rsvd(a, m, n, k, { engine: jsEngine }) */
export const jsEngine: MatmulEngine = {
  name: 'js',
  precision: 'float64',
  bind(a, m, n) {
    let at: Float64Array | undefined;
    return {
      mul: (b, l) => matmul(a, b, m, n, l),
      tmul: (b, l) => matmul((at ??= transpose(a, m, n)), b, n, m, l),
      dispose: () => undefined,
    };
  },
};

let cached: Promise<MatmulEngine | undefined> | undefined;

/**
 * The tfjs-backend-wasm engine, or undefined when `@tensorflow/tfjs-core` + `@tensorflow/tfjs-backend-wasm` are not
 * installed or another tfjs backend already holds tensors in this process (switching it would disturb that user).
 * @example const engine = (await tfjsWasmEngine()) ?? jsEngine;
 */
export function tfjsWasmEngine(): Promise<MatmulEngine | undefined> {
  cached ??= load().catch(() => undefined);
  return cached;
}

async function load(): Promise<MatmulEngine | undefined> {
  const core = '@tensorflow/tfjs-core';
  const wasm = '@tensorflow/tfjs-backend-wasm';
  // Variable specifiers keep TypeScript from requiring the optional packages at build time.
  const tf = (await import(core)) as TfLike;
  await import(wasm);
  const current = tf.getBackend(); // undefined until some backend is initialised
  if (current !== 'wasm') {
    if (current !== undefined && tf.memory().numTensors > 0) return undefined;
    if (!(await tf.setBackend('wasm'))) return undefined;
  }
  await tf.ready();
  return {
    name: 'tfjs-wasm',
    precision: 'float32',
    bind(a, m, n) {
      // matMul with transposeA takes a slow path in tfjs-wasm; Aᵀ is uploaded once instead.
      const t = tf.tensor2d(Float32Array.from(a), [m, n]);
      let tt: TfTensor | undefined;
      const run = (x: TfTensor, b: Float64Array, rows: number, l: number): Float64Array => {
        const bt = tf.tensor2d(Float32Array.from(b), [rows, l]);
        const c = tf.matMul(x, bt, false, false);
        const out = Float64Array.from(c.dataSync());
        bt.dispose();
        c.dispose();
        return out;
      };
      return {
        mul: (b, l) => run(t, b, n, l),
        tmul: (b, l) => run((tt ??= tf.tensor2d(Float32Array.from(transpose(a, m, n)), [n, m])), b, m, l),
        dispose: () => {
          t.dispose();
          tt?.dispose();
        },
      };
    },
  };
}

/** The slice of the tfjs-core API used here. */
interface TfTensor {
  dataSync(): Float32Array;
  dispose(): void;
}
interface TfLike {
  getBackend(): string | undefined;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  memory(): { numTensors: number };
  tensor2d(data: Float32Array, shape: [number, number]): TfTensor;
  matMul(a: TfTensor, b: TfTensor, transposeA: boolean, transposeB: boolean): TfTensor;
}
