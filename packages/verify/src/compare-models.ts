import type { Model } from '@mc/ir';
import { compareOutputs } from './compare.js';
import { createSession, type Feeds, type RunModelOptions } from './run-model.js';

/** The worst agreement of one output over several feeds. */
export interface WorstComparison {
  /** Smallest cosine similarity seen. */
  cosine: number;
  /** Largest max |a − b| seen. */
  maxAbs: number;
  /** Smallest top-1 agreement seen (classifier outputs only). */
  top1?: number;
}

/**
 * Runs `reference` and `candidate` in onnxruntime-node on every feed and keeps, per output, the worst cosine, max abs
 * error and top-1 agreement: what a CLI reports after transforming a model.
 *
 * @example
 * ```ts
 * const worst = await compareModels(original, quantized, [feeds], { candidate: { graphOptimizationLevel: 'basic' } });
 * worst['logits']!.cosine; // 0.9998
 * ```
 */
export async function compareModels(
  reference: Model,
  candidate: Model,
  feeds: readonly Feeds[],
  opts: { reference?: RunModelOptions; candidate?: RunModelOptions } = {},
): Promise<Record<string, WorstComparison>> {
  const [a, b] = await Promise.all([createSession(reference, opts.reference), createSession(candidate, opts.candidate)]);
  const worst: Record<string, WorstComparison> = {};
  try {
    for (const f of feeds) {
      for (const [name, c] of Object.entries(compareOutputs(await a.run(f), await b.run(f)))) {
        const w = worst[name];
        const top1 = c.top1 === undefined ? w?.top1 : Math.min(w?.top1 ?? 1, c.top1);
        worst[name] = {
          cosine: Math.min(w?.cosine ?? 1, c.cosine),
          maxAbs: Math.max(w?.maxAbs ?? 0, c.maxAbs),
          ...(top1 !== undefined && { top1 }),
        };
      }
    }
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
  return worst;
}
