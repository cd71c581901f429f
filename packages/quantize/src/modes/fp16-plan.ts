import { type Model, inferShapes } from '@mc/ir';
import { Emitter } from '../emit.js';
import type { Feeds, Fp16Options } from '../options.js';
import { ReportBuilder } from '../report.js';
import { ortNodeRunner } from '../runner.js';
import { type Fp16Plan, convertFp16 } from './fp16.js';
import { isFloatConstant, overflowGuard } from './fp16-guard.js';

async function collect(src: AsyncIterable<Feeds> | Iterable<Feeds>): Promise<Feeds[]> {
  const out: Feeds[] = [];
  for await (const f of src as AsyncIterable<Feeds>) out.push(f);
  return out;
}

/** Float32 graph outputs of `model` on every batch, in order. */
async function outputsOf(model: Model, batches: readonly Feeds[], opts: Fp16Options): Promise<Float32Array[]> {
  const names = model.graph.outputs.filter((v) => v.dtype === 'float32').map((v) => v.name);
  const session = await (opts.runner ?? ortNodeRunner()).open(model);
  const out: Float32Array[] = [];
  try {
    for (const feeds of batches) {
      opts.signal?.throwIfAborted();
      const r = await session.run(feeds, names);
      for (const n of names) out.push(r[n]!);
    }
  } finally {
    await session.close();
  }
  return out;
}

/**
 * Decides what fp16 keeps in float32 beyond the block list: the overflow guard (constants, and with calibration the
 * activations, beyond float16's range), then, with `maxOutputError`, the shortest prefix of the graph kept float32
 * for which the converted model's outputs stay within it on the calibration batches. The prefix search is a binary
 * search: error introduced early is amplified by every later layer, so the output error falls (not strictly, it is
 * rounding noise) as the prefix grows; the whole graph in float32 has error 0, so the search always ends.
 * @internal
 */
export async function planFp16(model: Model, opts: Fp16Options, report: ReportBuilder): Promise<Fp16Plan> {
  const batches = opts.calibration === undefined ? undefined : await collect(opts.calibration);
  const guard = await overflowGuard(model, opts, batches, report);
  const tol = opts.maxOutputError;
  if (tol === undefined || batches === undefined || batches.length === 0) return { guard, keepBefore: 0 };
  const ref = await outputsOf(model, batches, opts);
  const candidates = model.graph.nodes.flatMap((n, i) => (isFloatConstant(n) ? [] : [i]));
  const errorWith = async (k: number): Promise<number> => {
    const m = model.clone();
    const plan = { guard, keepBefore: k >= candidates.length ? Infinity : candidates[k]! };
    convertFp16(m, { ...opts, keepIoTypes: true }, new Emitter(m.graph), new ReportBuilder(), plan);
    // Stale intermediate value_info (float32 where a node now computes float16) would make onnxruntime refuse the
    // candidate; onnxruntime infers it again, as after the finishing slim pass.
    m.graph.valueInfo.length = 0;
    m.graph.topoSort();
    inferShapes(m);
    const got = await outputsOf(m, batches, opts);
    let worst = 0;
    got.forEach((y, j) => {
      const r = ref[j]!;
      for (let i = 0; i < r.length; i++) {
        const d = Math.abs(y[i]! - r[i]!);
        if (!(d <= worst)) worst = d; // NaN is worst
      }
    });
    return worst;
  };
  const e0 = await errorWith(0);
  if (e0 <= tol) return { guard, keepBefore: 0 };
  let lo = 0; // fails
  let hi = candidates.length; // holds: all float32
  let eHi = 0;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const e = await errorWith(mid);
    if (e <= tol) [hi, eHi] = [mid, e];
    else lo = mid;
  }
  report.warn({
    code: 'W_NUMERIC',
    message: `fp16: plain conversion moves the outputs by up to ${e0.toExponential(3)} on the calibration batches, over maxOutputError ${tol}; the first ${hi} of ${candidates.length} nodes stay float32 (then ${eHi.toExponential(3)})`,
  });
  return { guard, keepBefore: hi >= candidates.length ? Infinity : candidates[hi]! };
}
