import { McError, type McWarning, type Model, modelStats, type Node, normalizeWeights } from '@mc/ir';
import { calibratedFactors, outputErrorCurve, outputSpectra } from './calibrate.js';
import { matmul } from './kernels/matmul.js';
import { l1RelError, TuckerErrorOracle } from './kernels/rank-select.js';
import { jsEngine, type MatmulEngine, tfjsWasmEngine } from './kernels/engine.js';
import { ENGINE_MIN_MACS } from './kernels/products.js';
import { rsvd } from './kernels/rsvd.js';
import { svd, tailError, truncate } from './kernels/svd.js';
import { emitFactors, type Tucker2, tucker2 } from './kernels/tucker2.js';
import { FACTORIZE_DEFAULTS, type FactorizeOptions, type Policy, validateOptions, warn } from './options.js';
import { chooseGlobal, chooseLocal, type Choice, type Decomposed, paramsAt, paramsOf } from './plan.js';
import type { FactorizeReport, LayerReport, PassedThrough } from './report.js';
import { RULES, UNSUPPORTED } from './rules/index.js';
import type { ConvFactors, ConvLayer, DenseFactors, DenseLayer } from './rules/types.js';
import { checkFinite } from './rules/weights.js';

/** Result of {@link factorize}. */
export interface FactorizeResult {
  model: Model;
  report: FactorizeReport;
}

/**
 * Low-rank factorisation of every MatMul (constant weight), Gemm and Conv (group 1, any spatial rank) layer: truncated
 * SVD for dense weights, Tucker-2 on the channel modes for conv kernels. A layer is replaced only when its factors hold
 * fewer weights. The input model is never changed.
 *
 * @example
 * ```ts
 * const { model: small, report } = await factorize(model, { error: 0.3 });
 * report.after.params / report.before.params;
 * ```
 */
export async function factorize(model: Model, opts: FactorizeOptions = { error: 0.1 }): Promise<FactorizeResult> {
  const policy = validateOptions(opts);
  const onlyIfSmaller = opts.onlyIfSmaller ?? FACTORIZE_DEFAULTS.onlyIfSmaller;
  const signal = opts.signal;
  signal?.throwIfAborted();
  const out = model.clone();
  // Weights in Constant nodes (Paddle2ONNX) or behind Identity nodes (torch.onnx) become initializers, so the rules
  // find them. A weight still read by several layers after this is shared and is left alone (factorising it for one
  // reader would untie it and store it twice).
  normalizeWeights(out);
  // Stats run shape inference; do it on throw-away clones so the output differs from the input only where factorised.
  const before = modelStats(model.clone());
  const warnings: McWarning[] = [];
  const passedThrough: PassedThrough[] = [];
  const layers: (DenseLayer | ConvLayer)[] = [];
  const ctx = { opset: out.opset('') ?? 13, legacyInputs: out.irVersion < 4 };
  for (const node of out.graph.nodes) {
    const key = `${node.domain === 'ai.onnx' ? '' : node.domain}::${node.opType}`;
    const rule = RULES.get(key);
    if (rule === undefined) {
      const why = UNSUPPORTED.get(key);
      if (why !== undefined) passedThrough.push(pass(node, why, warnings));
      continue;
    }
    const ins = rule.inspect(node, ctx);
    if ('skip' in ins) passedThrough.push(pass(node, ins.skip, warnings));
    else layers.push(ins.layer);
  }
  // Everything that can fail on user input fails here, before any decomposition.
  for (const l of layers) checkFinite(l.w, l.node);
  if (policy.kind === 'rank' && layers.length > 0) {
    const most = Math.max(...layers.map((l) => (l.kind === 'dense' ? Math.min(l.rows, l.cols) : Math.max(l.cin, l.cout))));
    if (policy.value > most) {
      throw new McError(
        'E_OPTION',
        `rank ${policy.value} is larger than any layer allows (largest possible rank here is ${most}); pass --rank ≤ ${most}`,
      );
    }
  }

  const spectra =
    opts.calibration === undefined
      ? undefined
      : await outputSpectra(
          out,
          layers.filter((l): l is DenseLayer => l.kind === 'dense'),
          opts.calibration,
          signal,
        );
  if (spectra !== undefined && layers.some((l) => l.kind === 'conv')) {
    warnings.push(
      warn('W_COMPAT', 'calibration applies to dense layers (MatMul/Gemm); Conv layers were factorised with the weight criterion'),
    );
  }
  const total = layers.length;
  const wantEngine = layers.some((l) => (l.kind === 'dense' ? randomizedFor(l, policy) || bigDense(l) : bigConv(l)));
  const engine = wantEngine ? ((await tfjsWasmEngine()) ?? jsEngine) : jsEngine;
  const decomposed: Decomposed[] = [];
  for (const [index, layer] of layers.entries()) {
    signal?.throwIfAborted();
    opts.onProgress?.({ phase: 'decompose', layer: layer.node.name, index, total });
    const d = decompose(layer, policy, opts.seed ?? FACTORIZE_DEFAULTS.seed, engine);
    const spectrum = layer.kind === 'dense' ? spectra?.get(layer) : undefined;
    decomposed.push(spectrum !== undefined && 'svd' in d ? { ...d, spectrum } : d);
    await new Promise<void>((r) => setImmediate(r)); // let abort signals and progress reach the caller
  }

  let choices: Choice[];
  if (policy.kind === 'ratio') {
    const fixed = before.params - decomposed.reduce((s, d) => s + paramsOf(d), 0);
    const budget = policy.value * before.params - fixed;
    const g = chooseGlobal(decomposed, budget);
    if (!g.met)
      warnings.push(
        warn(
          'W_NUMERIC',
          `ratio ${policy.value} cannot be reached by factorising (non-factorisable weights alone are ${fixed}); used the smallest ranks instead`,
        ),
      );
    choices = g.choices;
  } else {
    choices = decomposed.map((d, index) => {
      signal?.throwIfAborted();
      opts.onProgress?.({ phase: 'select', layer: d.layer.node.name, index, total });
      return chooseLocal(d, policy);
    });
  }

  const nodes: LayerReport[] = [];
  for (const [index, d] of decomposed.entries()) {
    signal?.throwIfAborted();
    const choice = choices[index]!;
    const layer = d.layer;
    const rule = RULES.get(`::${layer.node.opType}`)!;
    const base = baseReport(d);
    if ('keep' in choice) {
      nodes.push({ ...base, reason: choice.keep });
      continue;
    }
    const after = paramsAt(d, choice.ranks);
    if (onlyIfSmaller && after >= paramsOf(d)) {
      nodes.push({
        ...base,
        ranks: choice.ranks,
        reason: `ranks [${choice.ranks.join(', ')}] need ${after} weights, not fewer than ${paramsOf(d)}`,
      });
      continue;
    }
    opts.onProgress?.({ phase: 'rewrite', layer: layer.node.name, index, total });
    const { factors, report } = build(d, choice.ranks);
    rule.rewrite(out.graph, layer, factors, ctx);
    nodes.push({ ...base, ...report });
  }
  out.graph.removeUnusedInitializers();
  if (!nodes.some((n) => n.replaced)) {
    warnings.push(
      warn(
        'W_PASSTHROUGH',
        layers.length === 0
          ? 'no factorisable layer (MatMul with a constant weight, Gemm, Conv with group 1) in the model; the output equals the input'
          : `no layer was factorised under ${policyText(policy)}; the output equals the input (loosen the bound or pass --rank)`,
      ),
    );
  }
  const after = modelStats(out.clone());
  return {
    model: out,
    report: { technique: 'lowrank', policy: policyObject(policy), before, after, nodes, passedThrough, warnings },
  };
}

function pass(node: Node, reason: string, warnings: McWarning[]): PassedThrough {
  warnings.push(warn('W_PASSTHROUGH', `${node.opType} '${node.name}' kept as is: ${reason}`, node.name));
  return { node: node.name, opType: node.opType, reason };
}

function policyObject(p: Policy): FactorizeReport['policy'] {
  switch (p.kind) {
    case 'error':
      return { error: p.value };
    case 'rank':
      return { rank: p.value };
    case 'ratio':
      return { ratio: p.value };
    case 'energy':
      return { energy: p.value };
  }
}

function policyText(p: Policy): string {
  return `${p.kind} ${p.value}`;
}

/** A conv whose decomposition has products large enough for the wasm engine (products.ts). */
function bigConv(l: ConvLayer): boolean {
  return Math.max(l.cout, l.cin) * l.w.length >= ENGINE_MIN_MACS;
}

/** A dense layer whose exact SVD is worth the wasm engine: min² · max ≥ 2²⁸ multiply-adds (1280x1000: yes, 9216x128: no). */
function bigDense(l: DenseLayer): boolean {
  const small = Math.min(l.rows, l.cols);
  return small * small * Math.max(l.rows, l.cols) >= 2 ** 28;
}

/** Randomized only where nothing needs the whole spectrum: a fixed rank well below a large matrix's size. */
function randomizedFor(layer: DenseLayer, policy: Policy): boolean {
  const small = Math.min(layer.rows, layer.cols);
  return policy.kind === 'rank' && small > 512 && policy.value * 4 <= small;
}

function decompose(layer: DenseLayer | ConvLayer, policy: Policy, seed: number, engine: MatmulEngine): Decomposed {
  if (layer.kind === 'dense') {
    return {
      layer,
      svd: randomizedFor(layer, policy)
        ? rsvd(layer.w, layer.rows, layer.cols, policy.value, { seed, engine })
        : svd(layer.w, layer.rows, layer.cols, bigDense(layer) ? engine : undefined),
    };
  }
  const t = tucker2(layer.w, layer.cout, layer.cin, layer.spatial, engine);
  return { layer, tucker: t, oracle: new TuckerErrorOracle(layer.w, t), engine };
}

function baseReport(d: Decomposed): LayerReport {
  const l = d.layer;
  return {
    node: l.node.name,
    opType: l.node.opType,
    method: 'svd' in d ? 'svd' : 'tucker2',
    oldShape: l.shape,
    newShapes: [],
    ranks: [],
    weightError: 0,
    frobeniusError: 0,
    paramsBefore: paramsOf(d),
    paramsAfter: paramsOf(d),
    decomposition: 'svd' in d ? (d.spectrum !== undefined ? 'calibrated' : d.svd.method) : d.tucker.method,
    replaced: false,
  };
}

function build(d: Decomposed, ranks: number[]): { factors: DenseFactors | ConvFactors; report: Partial<LayerReport> } {
  if ('svd' in d) {
    const { rows, cols, w } = d.layer;
    let a: Float64Array;
    let b: Float64Array;
    let k: number;
    let outputError: number | undefined;
    if (d.spectrum !== undefined) {
      k = Math.min(ranks[0]!, rows, cols);
      ({ a, b } = calibratedFactors(d.layer, d.spectrum, k));
      outputError = outputErrorCurve(d.spectrum.values)[k];
    } else {
      const t = truncate(d.svd, ranks[0]!);
      k = t.rank;
      a = new Float64Array(rows * k);
      b = new Float64Array(k * cols);
      for (let j = 0; j < k; j++) {
        const r = Math.sqrt(t.s[j]!);
        for (let i = 0; i < rows; i++) a[i * k + j] = t.u[i * k + j]! * r;
        for (let i = 0; i < cols; i++) b[j * cols + i] = t.vt[j * cols + i]! * r;
      }
    }
    // The rank search already read err(k) on the residual walk; the Frobenius error of a truncated SVD is its tail.
    let weightError = d.spectrum === undefined ? d.curve?.[k] : undefined;
    let frobeniusError = d.spectrum === undefined ? tailError(d.svd.s, k) : undefined;
    if (weightError === undefined || frobeniusError === undefined) {
      const wHat = matmul(a, b, rows, k, cols);
      weightError = l1RelError(w, wHat);
      frobeniusError = frob(w, wHat);
    }
    return {
      factors: { a, b, k },
      report: {
        ranks: [k],
        newShapes: [
          [rows, k],
          [k, cols],
        ],
        weightError,
        frobeniusError,
        paramsAfter: k * (rows + cols),
        replaced: true,
        ...(outputError !== undefined && { outputError }),
      },
    };
  }
  const { cin, cout, kernel, w } = d.layer;
  const [kIn, kOut] = ranks as [number, number];
  const f = emitFactors(w, d.tucker, kIn, kOut, d.engine);
  const ones = kernel.map(() => 1);
  const newShapes: number[][] = [];
  if (f.first) newShapes.push([kIn, cin, ...ones]);
  newShapes.push([f.last ? kOut : cout, f.first ? kIn : cin, ...kernel]);
  if (f.last) newShapes.push([cout, kOut, ...ones]);
  return {
    factors: { ...f, kIn, kOut },
    report: {
      ranks: [kIn, kOut],
      newShapes,
      weightError: convError(d, kIn, kOut),
      frobeniusError: coreTailError(d.tucker, kIn, kOut),
      paramsAfter: paramsAt(d, ranks),
      replaced: true,
    },
  };
}

/** The L1 error the search measured on its residual at these ranks, else a reconstruction. */
function convError(d: Extract<Decomposed, { tucker: Tucker2 }>, kIn: number, kOut: number): number {
  const s = d.searched;
  return s !== undefined && s.ranks[0] === kIn && s.ranks[1] === kOut ? s.error : d.oracle.error(kIn, kOut);
}

function frob(a: Float64Array, b: Float64Array): number {
  let e = 0;
  let t = 0;
  for (let i = 0; i < a.length; i++) {
    e += (a[i]! - b[i]!) ** 2;
    t += a[i]! ** 2;
  }
  return t > 0 ? Math.sqrt(e / t) : 0;
}

/** ‖W − Ŵ‖_F/‖W‖_F of a Tucker-2 truncation from the core alone: the orthogonal factors preserve norms. */
function coreTailError(t: Tucker2, kIn: number, kOut: number): number {
  let all = 0;
  let kept = 0;
  const { rankIn, spatial } = t;
  for (let a = 0; a < t.rankOut; a++)
    for (let b = 0; b < rankIn; b++)
      for (let s = 0; s < spatial; s++) {
        const v = t.core[(a * rankIn + b) * spatial + s]! ** 2;
        all += v;
        if (a < kOut && b < kIn) kept += v;
      }
  return all > 0 ? Math.sqrt(Math.max(all - kept, 0) / all) : 0;
}
