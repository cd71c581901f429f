import { McError, type McWarning } from './errors.js';
import type { Model } from './model.js';

/** What a pass reports. */
export interface PassResult {
  modified: boolean;
  warnings: McWarning[];
}

/** Context shared by the passes of one run. */
export interface PassContext {
  /** Skip reasons and notes collected for the report. */
  warnings: McWarning[];
}

/** An in-place model rewrite. */
export interface Pass {
  readonly name: string;
  run(model: Model, ctx: PassContext): PassResult;
}

/** Options of {@link runPasses}. */
export interface RunPassesOptions {
  /** Repeat the whole list until nothing changes, at most this many rounds (default 1). */
  maxSteps?: number;
  /** Called after each pass; throw to fail the run (e.g. an invariant check). */
  verifyEach?: (model: Model, pass: Pass) => void;
}

/**
 * Runs passes in order, in place. A failure is re-thrown naming the pass and the passes that ran before it.
 *
 * @example
 * ```ts
 * const { warnings } = runPasses(model, [foldBatchNorm, removeIdentity]);
 * ```
 */
export function runPasses(model: Model, passes: readonly Pass[], opts: RunPassesOptions = {}): PassResult {
  const ctx: PassContext = { warnings: [] };
  const ran: string[] = [];
  let any = false;
  for (let step = 0; step < (opts.maxSteps ?? 1); step++) {
    let modified = false;
    for (const p of passes) {
      try {
        const r = p.run(model, ctx);
        ctx.warnings.push(...r.warnings);
        modified ||= r.modified;
        opts.verifyEach?.(model, p);
      } catch (e) {
        const msg = `pass '${p.name}' failed${ran.length > 0 ? ` after ${ran.join(' → ')}` : ''}: ${e instanceof Error ? e.message : String(e)}`;
        throw new McError(McError.is(e) ? e.code : 'E_INVARIANT', msg, {
          cause: e,
          context: { ...(McError.is(e) ? e.context : {}), step: p.name },
        });
      }
      ran.push(p.name);
    }
    any ||= modified;
    if (!modified) break;
  }
  return { modified: any, warnings: ctx.warnings };
}
