import { attr, int64Tensor, McError, type Model } from '@mc/ir';
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
    gram!.shape = [k, k];
    g.addOutput(gram!);
    fetch.set(name, { out: gram!.name, k });
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
        const s = sums.get(name)!;
        for (let i = 0; i < k * k; i++) s.h[i] = s.h[i]! + data[i]!;
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
  return sums;
}
