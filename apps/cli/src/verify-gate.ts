import { rm } from 'node:fs/promises';
import { McError, type Model, type ModelStats } from '@mc/ir';
import {
  type ChangeReport,
  gate,
  GATE_DEFAULTS,
  gateFailure,
  type GateReport,
  namedFeeds,
  nothingChanged,
  type NothingChanged,
} from '@mc/pipeline';
import { type GateTechnique, onlyCatchesBrokenGraphs, type RunModelOptions } from '@mc/verify';
import { type DataFlagValues, loadDataFlags } from './data-flags.js';
import { type CliIO, defined, type FlagTable } from './flags.js';

/** `--no-verify` and `--max-accuracy-drop`, shared by every command that transforms a model. */
export const VERIFY_FLAGS = {
  'no-verify': {
    type: 'boolean',
    description: 'write the output without checking it in onnxruntime-node (the output says it was not verified)',
  },
  'max-accuracy-drop': {
    type: 'number',
    arg: 'pt',
    description: "with --dataset: largest top-1 loss on the test split, in points (default: the technique's, see docs/verify.md)",
  },
  verify: { type: 'boolean', description: 'no effect: every output is verified before it is written unless --no-verify' },
} as const satisfies FlagTable;

/** The parsed flags the gate reads: the data flags and `--no-verify`, `--max-accuracy-drop`. */
export interface VerifyFlagValues extends DataFlagValues {
  'no-verify'?: boolean | undefined;
  'max-accuracy-drop'?: number | undefined;
}

/** What a command hands the gate. */
export interface GateRequest {
  reference: Model;
  candidate: Model;
  technique: GateTechnique;
  output: string;
  candidateSession?: RunModelOptions;
}

/**
 * Verifies a candidate before it is written: on the test split when `--dataset` is given (or, for `--dataset npy`, on
 * a folder's one `.npy` per model input), else on synthetic inputs.
 * Throws `E_VERIFY` (exit 5) when it fails; with `--no-verify` says so on stderr and returns undefined.
 */
export async function verifyBeforeWrite(f: VerifyFlagValues, io: CliIO, req: GateRequest): Promise<GateReport | undefined> {
  if (f['no-verify'] === true) {
    io.err(`mc: warning: --no-verify: ${req.output} is written without verification`);
    return undefined;
  }
  let heldOut;
  let samples;
  try {
    heldOut = await loadDataFlags({ ...f, limit: GATE_DEFAULTS.heldOutSamples }, 'test');
  } catch (e) {
    if (!(McError.is(e) && e.code === 'E_IO')) throw e;
    // A folder with one .npy per model input verifies on those inputs; one with training data only (e.g. x_train.npy)
    // on synthetic inputs, and says so.
    const dir = f['data-dir'];
    const feeds = f.dataset === 'npy' && dir !== undefined ? await namedFeeds(req.reference, dir, GATE_DEFAULTS.samples) : undefined;
    if (feeds !== undefined) samples = { feeds, name: `the .npy inputs in ${dir}` };
    else io.err(`mc: warning: no test split to verify on (${e.message}); verifying on synthetic inputs`);
  }
  const r = await gate(req.reference, req.candidate, {
    technique: req.technique,
    ...(heldOut !== undefined && { heldOut }),
    ...(samples !== undefined && { samples }),
    ...defined({ maxAccuracyDrop: f['max-accuracy-drop'] }),
    feed: defined({ scale: f.scale }),
    ...(req.candidateSession !== undefined && { candidate: req.candidateSession }),
  });
  if (!r.ok) throw gateFailure(r, req.output);
  return r;
}

/** Like {@link verifyBeforeWrite} for a file already on disk (training checkpoints): a failure removes it. */
export async function verifyWritten(f: VerifyFlagValues, io: CliIO, req: GateRequest): Promise<GateReport | undefined> {
  try {
    return await verifyBeforeWrite(f, io, req);
  } catch (e) {
    await rm(req.output, { force: true });
    throw e;
  }
}

/** The one-line stderr warning when a technique found nothing to act on (exit code stays 0); returns it for JSON. */
export function warnNothingChanged(io: CliIO, report: ChangeReport, where = ''): NothingChanged | undefined {
  const n = nothingChanged(report);
  if (n !== undefined) io.err(`mc: warning: ${where}nothing changed: ${n.reason}; the output computes what the input does`);
  return n;
}

/** Lines of a gate report for the terminal. */
export function gateLines(r: GateReport | undefined): string[] {
  if (r === undefined) return ['verify: skipped (--no-verify); the output was not checked'];
  const lines = Object.entries(r.outputs).map(
    ([name, c]) =>
      `verify ${name} (${r.inputs}): cosine ${c.cosine.toFixed(6)}, max |Δ| ${c.maxAbs.toExponential(2)}${c.top1 === undefined || r.accuracy === undefined ? '' : `, top-1 agreement ${(c.top1 * 100).toFixed(1)}%`}${r.thresholds.exact ? (c.bitwise ? ', bitwise equal' : '') : ''}`,
  );
  for (const [name, c] of Object.entries(r.outputs)) {
    if (c.constant !== undefined && r.accuracy === undefined) {
      lines.push(
        `warning: output '${name}' of the input model is ${c.constant} everywhere on the ${r.inputs}, so this check cannot see a change in it; pass --dataset to verify on data`,
      );
    }
  }
  if (r.accuracy)
    lines.push(
      `verify accuracy on ${r.accuracy.dataset} (${r.accuracy.samples} samples): ${(r.accuracy.before * 100).toFixed(2)}% -> ${(r.accuracy.after * 100).toFixed(2)}% (drop ${r.accuracy.drop.toFixed(2)} pt, allowed ${r.accuracy.maxDrop})`,
    );
  const bound = r.thresholds.exact
    ? 'bitwise equal'
    : r.accuracy
      ? `finite outputs, accuracy drop <= ${r.accuracy.maxDrop} pt`
      : r.thresholds.minCosine === undefined
        ? 'finite outputs'
        : `cosine >= ${r.thresholds.minCosine}`;
  lines.push(`verified (${r.technique}: ${bound})`);
  if (r.accuracy === undefined && onlyCatchesBrokenGraphs(r.thresholds)) {
    lines.push(
      `note: ${r.technique} changes what the model computes; on ${r.inputs} this check only catches a broken graph, so accuracy is unmeasured: pass --dataset to gate on it, or run mc eval on the output`,
    );
  }
  return lines;
}

/** The gate report as JSON output carries it. */
export function gateJson(r: GateReport | undefined): unknown {
  return r === undefined
    ? { skipped: true }
    : { ok: r.ok, technique: r.technique, inputs: r.inputs, outputs: r.outputs, ...(r.accuracy && { accuracy: r.accuracy }) };
}

/**
 * Prints a transforming command's `--json` result: the technique's report with its before/after model statistics
 * reduced to params, bytes and MACs, the verification, and the nothing-changed note.
 */
export function printResultJson(
  io: CliIO,
  r: {
    input: string;
    output: string;
    report: { before: ModelStats; after: ModelStats };
    verify: GateReport | undefined;
    unchanged: NothingChanged | undefined;
    extra?: Record<string, unknown>;
  },
): void {
  const { before, after, ...rest } = r.report;
  const figures = (s: ModelStats) => ({ params: s.params, bytes: s.paramBytes, macs: s.macs });
  const out = {
    input: r.input,
    output: r.output,
    ...rest,
    ...r.extra,
    before: figures(before),
    after: figures(after),
    verify: gateJson(r.verify),
  };
  io.out(JSON.stringify({ ...out, ...(r.unchanged && { nothingChanged: r.unchanged }) }, null, 2));
}
