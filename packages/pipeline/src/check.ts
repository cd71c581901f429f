import { McError, type Model } from '@mc/ir';
import { compareOutputs, createSession } from '@mc/verify';
import type { Feeds } from './feeds.js';

/** Thresholds a step's output must meet against its input model, on the same feeds. */
export interface CheckPolicy {
  /** Least cosine similarity of every output (default: none). */
  minCosine?: number;
  /** Least top-1 agreement of classifier outputs (default: none). */
  minTop1?: number;
}

/** How a step's output compared with its input in onnxruntime-node. */
export interface StepCheck {
  ok: boolean;
  maxAbs: number;
  cosine: number;
  top1: number | undefined;
  samples: number;
  reason?: string;
}

/**
 * Runs `before` and `after` in onnxruntime-node on the same feeds and compares every output. The output must load,
 * run and be finite; `policy` adds cosine and top-1 bounds.
 *
 * @example
 * ```ts
 * const c = await checkStep(original, compressed, feeds, { minTop1: 0.99 });
 * ```
 */
export async function checkStep(before: Model, after: Model, feeds: readonly Feeds[], policy: CheckPolicy = {}): Promise<StepCheck> {
  const a = await createSession(before);
  let b;
  try {
    b = await createSession(after);
  } catch (e) {
    await a.release();
    return { ok: false, maxAbs: Infinity, cosine: 0, top1: 0, samples: 0, reason: McError.is(e) ? e.message : String(e) };
  }
  let maxAbs = 0;
  let cosine = 1;
  let top1Sum = 0;
  let top1N = 0;
  let samples = 0;
  try {
    for (const f of feeds) {
      const ra = await a.run(f);
      const rb = await b.run(f);
      for (const c of Object.values(compareOutputs(ra, rb))) {
        maxAbs = Math.max(maxAbs, c.maxAbs);
        cosine = Math.min(cosine, c.cosine);
        if (c.top1 !== undefined) {
          top1Sum += c.top1;
          top1N++;
        }
      }
      samples += Object.values(f)[0]?.dims[0] ?? 1;
    }
  } catch (e) {
    return { ok: false, maxAbs: Infinity, cosine: 0, top1: 0, samples, reason: McError.is(e) ? e.message : String(e) };
  } finally {
    await a.release();
    await b.release();
  }
  const top1 = top1N === 0 ? undefined : top1Sum / top1N;
  const fails: string[] = [];
  if (!Number.isFinite(maxAbs)) fails.push('outputs are not finite or change shape');
  if (policy.minCosine !== undefined && cosine < policy.minCosine) fails.push(`cosine ${cosine.toFixed(4)} < ${policy.minCosine}`);
  if (policy.minTop1 !== undefined && top1 !== undefined && top1 < policy.minTop1)
    fails.push(`top-1 agreement ${top1.toFixed(4)} < ${policy.minTop1}`);
  return { ok: fails.length === 0, maxAbs, cosine, top1, samples, ...(fails.length > 0 && { reason: fails.join('; ') }) };
}
