import { McError, type Model, type Tensor, toFloat32 } from '@mc/ir';
import { compareOutputs, type OutputComparison } from './compare.js';
import { createSession, type Feeds, type RunModelOptions } from './run-model.js';

/** Bounds for {@link assertNumericallyClose}. Omitted bounds are not checked. */
export interface CloseOptions {
  /** One feed set, or several (each is run and compared). */
  feeds: Feeds | readonly Feeds[];
  /** Every element must satisfy |a - b| <= atol + rtol * |a| (numpy allclose) when either is given. */
  atol?: number;
  rtol?: number;
  minCosine?: number;
  minTop1?: number;
  /** Require identical bytes (lossless transforms). Implies `graphOptimizationLevel: 'disabled'` unless given. */
  bitwise?: boolean;
  graphOptimizationLevel?: RunModelOptions['graphOptimizationLevel'];
  sessionOptions?: RunModelOptions['sessionOptions'];
}

/** The measured closeness, per output, worst case over all feed sets. */
export type CloseReport = Record<string, OutputComparison>;

function worst(a: OutputComparison | undefined, b: OutputComparison): OutputComparison {
  if (a === undefined) return b;
  const top1 = a.top1 === undefined ? b.top1 : b.top1 === undefined ? a.top1 : Math.min(a.top1, b.top1);
  return {
    count: a.count + b.count,
    maxAbs: Math.max(a.maxAbs, b.maxAbs),
    maxRel: Math.max(a.maxRel, b.maxRel),
    cosine: Math.min(a.cosine, b.cosine),
    top1,
    bitwise: a.bitwise && b.bitwise,
  };
}

/**
 * Runs `orig` and `out` in onnxruntime-node on the same feeds and throws `McError('E_VERIFY')` when an output is
 * outside the bounds; returns the measured figures otherwise. Both sessions use the same optimization level
 * (default `'disabled'`, so ORT's own rewrites do not blur the comparison).
 *
 * @example
 * ```ts
 * await assertNumericallyClose(model, quantized, { feeds: randomFeeds(model, 0), minCosine: 0.999, minTop1: 0.99 });
 * await assertNumericallyClose(model, roundTripped, { feeds, bitwise: true });
 * ```
 */
export async function assertNumericallyClose(
  orig: Model | Uint8Array | string,
  out: Model | Uint8Array | string,
  opts: CloseOptions,
): Promise<CloseReport> {
  const runOpts: RunModelOptions = {
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'disabled',
    ...(opts.sessionOptions !== undefined && { sessionOptions: opts.sessionOptions }),
  };
  const feedSets = Array.isArray(opts.feeds) ? (opts.feeds as readonly Feeds[]) : [opts.feeds as Feeds];
  const [a, b] = await Promise.all([createSession(orig, runOpts), createSession(out, runOpts)]);
  const report: CloseReport = {};
  const failures: string[] = [];
  try {
    for (const [k, feeds] of feedSets.entries()) {
      const [ra, rb] = await Promise.all([a.run(feeds), b.run(feeds)]);
      for (const [name, c] of Object.entries(compareOutputs(ra, rb))) {
        report[name] = worst(report[name], c);
        const at = feedSets.length > 1 ? ` (feed set ${k})` : '';
        if (opts.bitwise === true && !c.bitwise) failures.push(`'${name}' differs bitwise${at}: maxAbs ${c.maxAbs}`);
        if (opts.atol !== undefined || opts.rtol !== undefined) {
          const ok = allclose(ra[name]!, rb[name]!, opts.atol ?? 0, opts.rtol ?? 0);
          if (!ok)
            failures.push(`'${name}' exceeds atol ${opts.atol ?? 0} / rtol ${opts.rtol ?? 0}${at}: maxAbs ${c.maxAbs}, maxRel ${c.maxRel}`);
        }
        if (opts.minCosine !== undefined && !(c.cosine >= opts.minCosine))
          failures.push(`'${name}' cosine ${c.cosine} < ${opts.minCosine}${at}`);
        if (opts.minTop1 !== undefined && c.top1 !== undefined && !(c.top1 >= opts.minTop1))
          failures.push(`'${name}' top-1 agreement ${c.top1} < ${opts.minTop1}${at}`);
      }
    }
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
  if (failures.length > 0) {
    const e = new McError(
      'E_VERIFY',
      `outputs are not close enough: ${failures.join('; ')}; loosen the technique's settings or exclude the sensitive layers`,
    );
    (e as McError & { report?: CloseReport }).report = report;
    throw e;
  }
  return report;
}

/** A numeric tensor's elements as numbers: 64-bit integers converted, float64 kept, everything else as float32. */
function numbersOf(t: Tensor): ArrayLike<number> {
  if (t.dtype === 'int64' || t.dtype === 'uint64') return Array.from(t.data as BigInt64Array, Number);
  return t.dtype === 'float64' ? (t.data as Float64Array) : toFloat32(t);
}

/**
 * numpy.allclose semantics, NaN equal to NaN: |a - b| <= atol + rtol * |ref| for every element.
 *
 * @example
 * ```ts
 * allclose(expected, actual, 1e-7, 1e-3); // the ONNX backend-test tolerance
 * ```
 */
export function allclose(ref: Tensor, out: Tensor, atol: number, rtol: number): boolean {
  if (ref.size !== out.size) return false;
  if (ref.dtype === 'string' || out.dtype === 'string') {
    const x = ref.data as Uint8Array[];
    const y = out.data as Uint8Array[];
    return x.every((s, i) => Buffer.compare(s, y[i]!) === 0);
  }
  const a = numbersOf(ref);
  const b = numbersOf(out);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      return false;
    }
    if (x === y) continue;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(x))) return false;
  }
  return true;
}
