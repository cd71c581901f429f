import { inferShapes, type Model, modelStats } from '@mc/ir';
import { type MagnitudeOptions, type PruneReport, prune, storePruned } from '../src/index.js';

/** Prune, then apply the write-time storage as `mc prune` does before saving; the report carries the stored forms. */
export async function pruneStored(model: Model, opts: MagnitudeOptions): Promise<{ model: Model; report: PruneReport; dense: Model }> {
  const p = await prune(model, opts);
  const s = storePruned(p.model);
  const by = new Map(s.report.weights.map((w) => [w.weight, w]));
  const c = s.model.clone();
  inferShapes(c);
  const report = {
    ...p.report,
    after: modelStats(c),
    weights: p.report.weights.map((w) => ({ ...w, ...by.get(w.weight) })),
    warnings: [...p.report.warnings, ...s.report.warnings],
  };
  return { model: s.model, report, dense: p.model };
}
