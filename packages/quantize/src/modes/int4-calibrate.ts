import { attr, int64Tensor, McError, type Model, Tensor } from '@mc/ir';
import { Emitter } from '../emit.js';
import type { InputGram } from '../kernels/gptq.js';
import type { Feeds, Int4Options } from '../options.js';
import { ortNodeRunner } from '../runner.js';

async function* toAsync(src: AsyncIterable<Feeds> | Iterable<Feeds>): AsyncIterable<Feeds> {
  yield* src;
}

/**
 * Streams the calibration batches through the model and accumulates, for each named activation with `k` channels in
 * its last axis, `H = Σ x xᵀ` over all rows x. The product is computed inside onnxruntime (Reshape to [-1, K],
 * Transpose, MatMul appended to a probe copy of the model), so each batch returns K×K numbers per activation instead
 * of the activation itself, and memory stays flat however many sequences are used; the sum across batches is float64.
 * H is symmetric, so only its upper triangle (Gather of the flattened product) crosses into JS: each batch's results are
 * fresh buffers that wait for a garbage collection, and half the bytes per batch halves that wait's footprint.
 * @internal
 */
export async function collectInputGrams(
  model: Model,
  activations: ReadonlyMap<string, number>,
  opts: Int4Options,
): Promise<Map<string, InputGram>> {
  if (opts.calibration === undefined) {
    throw new McError(
      'E_OPTION',
      `int4 method '${opts.method}' needs calibration data: pass options.calibration (CLI: --dataset npy --data-dir D with the model's inputs, e.g. input_ids.npy)`,
    );
  }
  const probe = model.clone();
  const g = probe.graph;
  const emit = new Emitter(g);
  const byName = new Map<string, import('@mc/ir').Value>();
  for (const v of g.inputs) byName.set(v.name, v);
  for (const n of g.nodes) for (const o of n.outputs) byName.set(o.name, o);
  const fetch = new Map<string, { out: string; k: number }>();
  const upper = new Map<number, import('@mc/ir').Value>(); // one index table per width k
  const upperOf = (k: number) => {
    let v = upper.get(k);
    if (v === undefined) {
      const idx = new Int32Array((k * (k + 1)) / 2);
      let t = 0;
      for (let i = 0; i < k; i++) for (let j = i; j < k; j++) idx[t++] = i * k + j;
      v = emit.init(`gram_upper_${k}`, new Tensor('int32', [idx.length], idx));
      upper.set(k, v);
    }
    return v;
  };
  const flatShape = emit.init('gram_flat_shape', int64Tensor([1], [-1]));
  for (const [name, k] of activations) {
    const v = byName.get(name);
    if (v === undefined) continue;
    const shape = emit.init(`${name}_gram_shape`, int64Tensor([2], [-1, k]));
    const [flat] = emit.node(undefined, 'Reshape', [v, shape], { name: `${name}_gram_flat`, dtypes: ['float32'] });
    const [t] = emit.node(undefined, 'Transpose', [flat], {
      name: `${name}_gram_t`,
      attrs: { perm: attr.ints([1, 0]) },
      dtypes: ['float32'],
    });
    const [gram] = emit.node(undefined, 'MatMul', [t, flat], { name: `${name}_gram`, dtypes: ['float32'] });
    const [gramFlat] = emit.node(undefined, 'Reshape', [gram!, flatShape], { name: `${name}_gram_vec`, dtypes: ['float32'] });
    const [tri] = emit.node(undefined, 'Gather', [gramFlat!, upperOf(k)], {
      name: `${name}_gram_upper`,
      attrs: { axis: attr.int(0) },
      dtypes: ['float32'],
    });
    tri!.shape = [(k * (k + 1)) / 2];
    g.addOutput(tri!);
    fetch.set(name, { out: tri!.name, k });
  }
  const sums = new Map([...fetch].map(([n, { k }]) => [n, { h: new Float64Array(k * k), k }]));
  const runner = opts.runner ?? ortNodeRunner();
  const session = await runner.open(probe);
  let batches = 0;
  try {
    for await (const feeds of toAsync(opts.calibration)) {
      opts.signal?.throwIfAborted();
      const res = await session.run(
        feeds,
        [...fetch.values()].map((f) => f.out),
      );
      for (const [name, { out, k }] of fetch) {
        const data = res[out];
        if (data === undefined) continue;
        const h = sums.get(name)!.h;
        let t = 0;
        for (let i = 0; i < k; i++) for (let j = i; j < k; j++) h[i * k + j] = h[i * k + j]! + data[t++]!;
      }
      batches++;
      opts.onProgress?.({ phase: 'calibrate', done: batches });
    }
  } finally {
    await session.close();
  }
  if (batches === 0)
    throw new McError(
      'E_OPTION',
      `int4 method '${opts.method}': the calibration data yielded no batches; pass at least one batch of input feeds`,
    );
  for (const { h, k } of sums.values()) for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) h[j * k + i] = h[i * k + j]!;
  return sums;
}
