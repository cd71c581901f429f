import { McError, type Model, type Tensor } from '@mc/ir';
import { compareTensor } from './compare.js';
import { createSession, type Feeds, type ModelSession, type RunModelOptions } from './run-model.js';
import { syntheticFeeds } from './synthetic-feeds.js';
import { GATE_THRESHOLDS, type GateTechnique, type GateThresholds } from './thresholds.js';

/** How one output of the candidate agreed with the reference, worst case over every feed. */
export interface OutputAgreement {
  cosine: number;
  maxAbs: number;
  /** Smallest top-1 agreement seen (classifier outputs only; reported, not gated). */
  top1?: number;
  bitwise: boolean;
  /**
   * The input model gave this output one and the same value on every input run, so agreement on it shows nothing
   * (e.g. a text detector's empty map on synthetic noise); the caller should say so and suggest real data.
   */
  constant?: number;
}

/** The single value of a tensor whose elements are all equal, or undefined. */
function constantValue(t: Tensor): number | undefined {
  const d = t.data as ArrayLike<number | bigint>;
  if (d.length === 0) return undefined;
  const first = d[0];
  for (let i = 1; i < d.length; i++) if (d[i] !== first) return undefined;
  return Number(first);
}

/** Options of {@link checkAgreement}. */
export interface AgreementOptions {
  /** Whose row of {@link GATE_THRESHOLDS} applies. */
  technique: GateTechnique;
  /** Inputs to run; default four seeds of {@link syntheticFeeds}. */
  feeds?: readonly Feeds[];
  /** What `feeds` are, for the report (default 'synthetic inputs'). */
  inputs?: string;
  /** Pixel scale for synthetic float inputs (see {@link syntheticFeeds}). */
  scale?: number;
  /** Session options of the candidate (e.g. a MatMulNBits accuracy level); the reference runs with ORT defaults. */
  candidate?: RunModelOptions;
  /**
   * Check the cosine bound (default true). The gate turns it off on held-out data, where the accuracy bound is the
   * measure; NaN/Inf, shapes and exactness are always checked.
   */
  cosine?: boolean;
  /** When both models run in segments (see {@link RunModelOptions.segments}); default: above 256 MiB of weights. */
  segments?: RunModelOptions['segments'];
}

/** The result of {@link checkAgreement}: data; `ok` false lists every bound missed in `failures`. */
export interface AgreementReport {
  ok: boolean;
  technique: GateTechnique;
  thresholds: GateThresholds;
  inputs: string;
  outputs: Record<string, OutputAgreement>;
  failures: string[];
}

/** Domains onnxruntime-node implements without registering custom ops. */
const ORT_DOMAINS = new Set([
  '',
  'ai.onnx',
  'ai.onnx.ml',
  'com.microsoft',
  'com.microsoft.nchwc',
  'ai.onnx.training',
  'ai.onnx.preview.training',
]);

/**
 * Nodes onnxruntime cannot run without a custom-op library: domains it does not know and the model does not define.
 *
 * @example
 * ```ts
 * customDomainOps(model); // [{ node: 'q0', opType: 'Quant', domain: 'qonnx.custom_op.general' }]
 * ```
 */
export function customDomainOps(model: Model): { node: string; opType: string; domain: string }[] {
  const local = new Set(model.functions.map((f) => `${f.domain}::${f.name}`));
  return model.graph.nodes
    .filter((n) => !ORT_DOMAINS.has(n.domain) && !local.has(`${n.domain}::${n.opType}`))
    .map((n) => ({ node: n.name, opType: n.opType, domain: n.domain }));
}

async function open(model: Model, role: 'input' | 'output', opts: RunModelOptions): Promise<ModelSession> {
  try {
    return await createSession(model, opts);
  } catch (e) {
    const custom = customDomainOps(model);
    const first = custom[0];
    if (first !== undefined) {
      const more = custom.length > 1 ? ` and ${custom.length - 1} more custom op(s)` : '';
      throw new McError(
        'E_UNSUPPORTED',
        `verification needs onnxruntime to run op ${first.opType} (domain ${first.domain}) of node '${first.node}'${more} in the ${role} model, and onnxruntime-node has no kernel for it; pass --no-verify to write the unverified model`,
        { cause: e, context: { node: first.node, opType: first.opType } },
      );
    }
    if (role === 'input') {
      const msg = McError.is(e) ? e.message : String(e);
      throw new McError(
        'E_UNSUPPORTED',
        `verification cannot run the input model in onnxruntime-node (${msg}); pass --no-verify to write the unverified model`,
        { cause: e },
      );
    }
    throw e;
  }
}

/**
 * Runs `reference` and `candidate` in onnxruntime-node on the same inputs and checks the candidate against the
 * technique's row of {@link GATE_THRESHOLDS}: byte-equal outputs for lossless paths, a least cosine otherwise, and
 * never a NaN/Inf (or a changed shape) the reference does not give. A candidate that onnxruntime cannot load or run
 * fails; a custom-domain op onnxruntime has no kernel for throws `E_UNSUPPORTED` naming it (verification cannot
 * run), as does a reference onnxruntime cannot run.
 *
 * @example
 * ```ts
 * const r = await checkAgreement(model, quantized, { technique: 'fp16' });
 * if (!r.ok) console.error(r.failures.join('; '));
 * ```
 */
export async function checkAgreement(reference: Model, candidate: Model, opts: AgreementOptions): Promise<AgreementReport> {
  const thresholds = GATE_THRESHOLDS[opts.technique];
  const feeds =
    opts.feeds ?? [0, 1, 2, 3].map((s) => syntheticFeeds(reference, s, { ...(opts.scale !== undefined && { scale: opts.scale }) }));
  const wanted = reference.graph.inputs.filter((v) => v.constValue === undefined && !reference.graph.initializers.has(v.name));
  const missing = wanted.filter((v) => feeds[0]?.[v.name] === undefined);
  if (missing.length > 0) {
    throw new McError(
      'E_UNSUPPORTED',
      `verification cannot make inputs of type ${missing[0]!.dtype} for input '${missing[0]!.name}'; pass --dataset to verify on data, or --no-verify to write the unverified model`,
    );
  }
  const level = thresholds.exact ? 'disabled' : undefined;
  const refOpts: RunModelOptions = {
    ...(level !== undefined && { graphOptimizationLevel: level }),
    ...(opts.segments !== undefined && { segments: opts.segments }),
  };
  const a = await open(reference, 'input', refOpts);
  const report: AgreementReport = {
    ok: true,
    technique: opts.technique,
    thresholds,
    inputs: opts.inputs ?? 'synthetic inputs',
    outputs: {},
    failures: [],
  };
  let b: ModelSession;
  try {
    b = await open(candidate, 'output', { ...refOpts, ...opts.candidate });
  } catch (e) {
    await a.release();
    if (McError.is(e) && e.code === 'E_UNSUPPORTED') throw e;
    return { ...report, ok: false, failures: [McError.is(e) ? e.message : String(e)] };
  }
  const fail = new Set<string>();
  try {
    // runMany: a model too large for one session runs segment by segment, each segment loaded once for all batches
    const ras = await a.runMany(feeds);
    let rbs: Record<string, Tensor>[] = [];
    try {
      rbs = await b.runMany(feeds);
    } catch (e) {
      fail.add(McError.is(e) ? e.message : String(e));
    }
    for (const [i, rb] of rbs.entries()) {
      const ra = ras[i]!;
      for (const [name, t] of Object.entries(ra)) {
        const u = rb[name];
        if (u === undefined) {
          fail.add(`output '${name}' is missing`);
          continue;
        }
        const c = compareTensor(t, u);
        const w = report.outputs[name];
        const top1 = c.top1 === undefined ? w?.top1 : Math.min(w?.top1 ?? 1, c.top1);
        const k = constantValue(t);
        const constant = w === undefined ? k : w.constant !== undefined && k === w.constant ? k : undefined;
        report.outputs[name] = {
          cosine: Math.min(w?.cosine ?? 1, c.cosine),
          maxAbs: Math.max(w?.maxAbs ?? 0, c.maxAbs),
          bitwise: (w?.bitwise ?? true) && c.bitwise,
          ...(top1 !== undefined && { top1 }),
          ...(constant !== undefined && Number.isFinite(constant) && { constant }),
        };
        if (t.dims.join('x') !== u.dims.join('x'))
          fail.add(`output '${name}' has shape [${u.dims.join(', ')}], the input model's has [${t.dims.join(', ')}]`);
        else if (!Number.isFinite(c.maxAbs)) fail.add(`output '${name}' has NaN or Inf where the input model's does not`);
      }
    }
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
  for (const [name, o] of Object.entries(report.outputs)) {
    if (thresholds.exact && !o.bitwise) fail.add(`output '${name}' differs (max |Δ| ${o.maxAbs.toExponential(2)}) on a lossless path`);
    else if (
      opts.cosine !== false &&
      thresholds.minCosine !== undefined &&
      Number.isFinite(o.maxAbs) &&
      !(o.cosine >= thresholds.minCosine)
    ) {
      fail.add(`output '${name}' cosine ${o.cosine.toFixed(6)} < ${thresholds.minCosine}`);
    }
  }
  report.failures = [...fail];
  report.ok = report.failures.length === 0;
  return report;
}
