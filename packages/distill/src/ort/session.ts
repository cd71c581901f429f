import { writeOnnx } from '@mc/io-onnx';
import { McError, Tensor, toFloat32, type Model } from '@mc/ir';
import * as ort from 'onnxruntime-node';
import type { OrtGraph } from './graph.js';

// No /tmp/mat-debug-<pid>.log from onnxruntime-node's telemetry client (see @mc/verify run-model.ts).
process.env.ORT_DISABLE_TELEMETRY ??= '1';

/**
 * One onnxruntime-node session over a generated graph, created once per training run; weights are fed every step from
 * Float32Arrays the optimizer owns.
 * @internal
 */
export class OrtRunner {
  private constructor(
    readonly graph: OrtGraph,
    readonly session: ort.InferenceSession,
  ) {}

  static async create(graph: OrtGraph, threads: number | undefined): Promise<OrtRunner> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(writeOnnx(graph.model), {
        executionProviders: ['cpu'],
        graphOptimizationLevel: 'all',
        ...(threads !== undefined && { intraOpNumThreads: threads }),
        interOpNumThreads: 1,
        logSeverityLevel: 3,
      });
    } catch (e) {
      throw new McError(
        'E_UNSUPPORTED',
        `onnxruntime-node cannot load the generated training graph: ${(e as Error).message}; train with engine: 'wasm'`,
        { cause: e },
      );
    }
    return new OrtRunner(graph, session);
  }

  /** Runs the graph; feeds are float32 (or int64 token ids) [data, dims]. Returns the fetched outputs as Float32Arrays. */
  async run(
    feeds: Record<string, [Float32Array | BigInt64Array, readonly number[]]>,
    fetch: readonly string[],
  ): Promise<Map<string, Float32Array>> {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, [data, dims]] of Object.entries(feeds))
      f[k] = data instanceof BigInt64Array ? new ort.Tensor('int64', data, dims) : new ort.Tensor('float32', data, dims);
    let res: ort.InferenceSession.OnnxValueMapType;
    try {
      res = await this.session.run(f, [...fetch]);
    } catch (e) {
      throw new McError('E_NUMERIC', `onnxruntime-node failed to run the training graph: ${(e as Error).message}`, { cause: e });
    }
    const out = new Map<string, Float32Array>();
    for (const name of fetch) out.set(name, (res[name] as ort.Tensor).data as Float32Array);
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Float32 copies of a model's initializers by name. @internal */
export function initialValues(model: Model, names: Iterable<string>): Map<string, { data: Float32Array; dims: readonly number[] }> {
  const out = new Map<string, { data: Float32Array; dims: readonly number[] }>();
  for (const n of names) {
    const c = model.graph.initializers.get(n)?.constValue;
    if (c === undefined) throw new McError('E_INVARIANT', `initializer '${n}' has no value`);
    out.set(n, { data: Float32Array.from(toFloat32(c)), dims: c.dims });
  }
  return out;
}

/** A clone of `model` with the given float32 initializer values (copied). @internal */
export function withWeights(model: Model, weights: ReadonlyMap<string, { data: Float32Array; dims: readonly number[] }>): Model {
  const out = model.clone();
  for (const [name, w] of weights) {
    const v = out.graph.initializers.get(name);
    if (v === undefined) throw new McError('E_INVARIANT', `initializer '${name}' vanished from the cloned model`);
    v.constValue = new Tensor('float32', w.dims, Float32Array.from(w.data));
  }
  return out;
}
