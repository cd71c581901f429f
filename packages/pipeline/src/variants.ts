import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Feeds, type Model, McError, normalizeWeights, weightOf } from '@mc/ir';
import { writeOnnx } from '@mc/io-onnx';
import { type QuantizeOptions, quantize } from '@mc/quantize';
import { checkAgreement, GATE_THRESHOLDS, type GateTechnique, syntheticFeeds } from '@mc/verify';
import { type LintTarget, suitedTargets } from './lint.js';
import { interleavedLatency, type RuntimeRun, runNode, runWeb, worstCosine } from './variants-run.js';

/** transformers.js `dtype` names, in the order its docs list them. */
export const VARIANT_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
/** One transformers.js `dtype`. */
export type VariantDtype = (typeof VARIANT_DTYPES)[number];

/** The file transformers.js loads for each dtype (under `onnx/`). */
export const VARIANT_FILES: Readonly<Record<VariantDtype, string>> = {
  fp32: 'model.onnx',
  fp16: 'model_fp16.onnx',
  q8: 'model_quantized.onnx',
  int8: 'model_int8.onnx',
  uint8: 'model_uint8.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
  bnb4: 'model_bnb4.onnx',
};

/** Named sets of variants. */
export const VARIANT_SETS = {
  transformersjs: VARIANT_DTYPES,
  web: ['fp32', 'fp16', 'q8', 'q4', 'q4f16'],
  mobile: ['fp32', 'fp16', 'int8', 'uint8', 'q4'],
} as const satisfies Record<string, readonly VariantDtype[]>;
/** A named set of variants. */
export type VariantSet = keyof typeof VARIANT_SETS;

/** MatMulNBits `accuracy_level` values tried for q4: 0 (unset: float32 compute) and 4 (int8 activations). */
export const ACCURACY_LEVELS = [0, 4] as const;

/**
 * What {@link variants} uses for unset options.
 * @example
 * variants(model, { set: VARIANTS_DEFAULTS.set });
 */
export const VARIANTS_DEFAULTS = { set: 'transformersjs' } as const satisfies { set: VariantSet };

/** Options of {@link variants}. */
export interface VariantsOptions {
  /** Which variants (default {@link VARIANTS_DEFAULTS}.set, 'transformersjs': all eight dtypes). */
  set?: VariantSet;
  /** Inputs parity and latency run on (default four seeds of synthetic inputs). The first one is timed. */
  feeds?: readonly Feeds[];
  /** What `feeds` are, for the report. */
  inputs?: string;
  /** Run every variant in onnxruntime-web (wasm, in Node) too (default true). */
  web?: boolean;
}

/** One variant in the report. */
export interface VariantEntry {
  dtype: VariantDtype;
  file: string;
  /** How mc made it ('' for fp32: the input as is). */
  recipe: string;
  status: 'ok' | 'failed' | 'skipped';
  /** Why failed or skipped. */
  reasons: string[];
  bytes: number;
  /** bytes / float32 bytes. */
  ratio: number;
  /** Least output cosine with float32 in onnxruntime-node, and the floor it must meet (the gate's). */
  cosine: number;
  floor: number;
  /** Smallest top-1 agreement with float32 (classifier-like outputs), when the gate computed one. */
  top1?: number;
  /** Least output cosine of onnxruntime-web against onnxruntime-node on the same file. */
  webCosine?: number;
  latencyNodeMs: number;
  latencyWebMs?: number;
  /** MatMulNBits accuracy_level written (q4). */
  accuracyLevel?: number;
  /** Lint targets the file suits (nothing flagged). */
  suits: LintTarget[];
}

/** The report of {@link variants}: data. */
export interface VariantsReport {
  set: VariantSet;
  inputs: string;
  float32Bytes: number;
  entries: VariantEntry[];
  /** How q4's accuracy_level was chosen: node latency per level, q8's latency, the choice and why. */
  accuracyLevel?: { latencyMs: Record<string, number>; q8Ms: number; chosen: number; why: string };
  ok: boolean;
}

/** The result of {@link variants}: the files (bytes by file name) and the report. */
export interface VariantsResult {
  files: Map<string, Uint8Array>;
  report: VariantsReport;
}

const RECIPES: Record<
  Exclude<VariantDtype, 'fp32'>,
  { technique: GateTechnique; options: (m: Model) => QuantizeOptions; recipe: string }
> = {
  fp16: { technique: 'fp16', options: () => ({ mode: 'fp16' }), recipe: 'fp16 (overflow guard: out-of-range constants stay float32)' },
  // transformers.js' q8: uint8 weights when the model has a Conv (onnxruntime-web's ConvInteger takes uint8), else int8
  q8: {
    technique: 'int8-dynamic',
    options: (m) => ({ mode: 'int8-dynamic', target: m.graph.nodes.some((n) => n.opType === 'Conv') ? 'ort-web' : 'ort-cpu' }),
    recipe: 'int8-dynamic, uint8 weights with Conv else int8',
  },
  int8: { technique: 'int8-dynamic', options: () => ({ mode: 'int8-dynamic', target: 'ort-cpu' }), recipe: 'int8-dynamic, int8 weights' },
  uint8: { technique: 'int8-dynamic', options: () => ({ mode: 'int8-dynamic', target: 'ort-web' }), recipe: 'int8-dynamic, uint8 weights' },
  q4: { technique: 'int4', options: () => ({ mode: 'int4', blockSize: 32 }), recipe: 'int4 MatMulNBits block 32, Conv int8' },
  q4f16: {
    technique: 'q4f16',
    options: () => ({ mode: 'q4f16', blockSize: 32 }),
    recipe: 'q4f16: int4 MatMulNBits block 32, float16 rest',
  },
  // transformers.js' conversion script: onnxruntime's MatMulBnb4 quantizer, NF4, block 64; floor: int4's
  bnb4: {
    technique: 'bnb4',
    options: () => ({ mode: 'bnb4' }),
    recipe: 'bnb4: NF4 codes block 64 in MatMulBnb4 (MatMul/Gemm weights; Conv and embeddings stay float32)',
  },
};

type Recipe = (typeof RECIPES)[keyof typeof RECIPES];

/**
 * The recipe of one dtype in one set: the 'web' set's q8 keeps float compute over int8 DequantizeLinear weights (the
 * QDQ weight form WebGPU runs; int8-dynamic's ConvInteger/MatMulInteger/DynamicQuantizeLinear have no WebGPU kernels),
 * and fp16 given real inputs keeps float32 every node whose activations leave float16's range on them.
 */
function recipeOf(dtype: keyof typeof RECIPES, set: VariantSet, feeds: readonly Feeds[] | undefined): Recipe {
  if (dtype === 'q8' && set === 'web')
    return {
      technique: 'int8-weights',
      options: () => ({ mode: 'int8-weights', perChannel: true }),
      recipe: 'int8 weights per channel (DequantizeLinear), float compute: runs on WebGPU',
    };
  if (dtype === 'fp16' && feeds !== undefined)
    return {
      technique: 'fp16',
      options: () => ({ mode: 'fp16', calibration: feeds }),
      recipe: 'fp16 (overflow guard on the given inputs: out-of-range constants and activations stay float32)',
    };
  return RECIPES[dtype];
}

function withAccuracyLevel(model: Model, level: number): Model {
  const m = model.clone();
  for (const n of m.graph.nodes) {
    if (n.opType !== 'MatMulNBits') continue;
    if (level === 0) n.attributes.delete('accuracy_level');
    else n.attributes.set('accuracy_level', { type: 'INT', value: BigInt(level) });
  }
  return m;
}

/** Least cosine of onnxruntime-web's outputs with onnxruntime-node's on the same file (kernels differ, not weights). */
export const WEB_FLOOR = 0.99;

/** Share of the float32 model's weight elements that q4 holds in MatMulNBits, and its largest K×N. */
function matmulNBitsShare(q4: Model, f32: Model): { share: number; largest: string } {
  let inNBits = 0;
  let largest = [0, 0];
  const int = (v: unknown) => (typeof v === 'object' && v !== null && 'value' in v ? Number((v as { value: bigint }).value) : 0);
  for (const n of q4.graph.nodes) {
    if (n.opType !== 'MatMulNBits') continue;
    const k = int(n.attributes.get('K'));
    const nn = int(n.attributes.get('N'));
    inNBits += k * nn;
    if (k * nn > largest[0]! * largest[1]!) largest = [k, nn];
  }
  let total = 0;
  for (const v of f32.graph.initializers.values()) if (v.constValue?.dtype === 'float32') total += v.constValue.data.length;
  return { share: total === 0 ? 0 : inNBits / total, largest: `${largest[0]}×${largest[1]}` };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Why bnb4 found no weight: what the model's weights sit in instead. */
function noBnb4Why(input: Model): string {
  const model = input.clone();
  normalizeWeights(model); // weights in Constant nodes (Paddle2ONNX) count as initializers, as quantize sees them
  const ops = [...new Set(model.graph.nodes.filter((n) => weightOf(n)?.value.isInitializer() === true).map((n) => n.opType))];
  return `the model has no MatMul or Gemm with a constant 2-D float32 weight (weights in: ${ops.join(', ') || 'none'}); bnb4 leaves Conv weights and embedding tables float32, as onnxruntime's MatMulBnb4 quantizer does`;
}

/**
 * Makes the transformers.js variant set of a float32 model (fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4; bnb4 is
 * reported as skipped and not written when the model has no MatMul/Gemm weight to quantize) and checks each one: the gate's agreement with float32 in onnxruntime-node,
 * a load and the same outputs in onnxruntime-web (wasm), latency in both, bytes below float32, the lint targets it
 * suits. q4 gets the MatMulNBits `accuracy_level` that is fastest in onnxruntime-node among {@link ACCURACY_LEVELS}
 * while its cosine floor holds.
 *
 * @example
 * ```ts
 * const { files, report } = await variants(await loadOnnx('gpt.onnx'), { set: 'transformersjs' });
 * ```
 */
export async function variants(model: Model, opts: VariantsOptions = {}): Promise<VariantsResult> {
  const set = opts.set ?? VARIANTS_DEFAULTS.set;
  const feeds = opts.feeds ?? [0, 1, 2, 3].map((s) => syntheticFeeds(model, s));
  if (feeds.length === 0)
    throw new McError('E_OPTION', 'variants: feeds is empty; pass at least one batch of inputs, or none for synthetic');
  const web = opts.web ?? true;
  let weights = 0;
  for (const v of model.graph.initializers.values()) weights += v.constValue?.byteLength ?? 0;
  if (weights >= PROTOBUF_LIMIT)
    throw new McError(
      'E_UNSUPPORTED',
      `variants: the model holds ${(weights / 2 ** 30).toFixed(2)} GiB of weights; variants checks every file in memory, which protobuf limits to 2 GiB: make each form with mc quantize (written with external data above 2 GiB) instead`,
    );
  const base = writeOnnx(model);
  const files = new Map<string, Uint8Array>();
  const entries: VariantEntry[] = [];
  const refNode = await runNode(base, feeds);
  let report: VariantsReport['accuracyLevel'];

  const check = async (dtype: VariantDtype, recipe: string, technique: GateTechnique, m: Model, node: RuntimeRun, level?: number) => {
    const bytes = dtype === 'fp32' ? base : writeOnnx(m);
    const reasons: string[] = [];
    const floor = GATE_THRESHOLDS[technique].minCosine ?? 0;
    const gate =
      dtype === 'fp32'
        ? undefined
        : await checkAgreement(model, m, { technique, feeds, ...(opts.inputs !== undefined && { inputs: opts.inputs }) });
    reasons.push(...(gate?.failures ?? []));
    const outs = Object.values(gate?.outputs ?? {});
    const top1s = outs.flatMap((o) => (o.top1 === undefined ? [] : [o.top1]));
    let w: RuntimeRun | undefined;
    if (web) {
      try {
        w = await runWeb(bytes, feeds);
      } catch (e) {
        reasons.push(`onnxruntime-web (wasm) cannot run it: ${message(e)}`);
      }
    }
    const webCosine = w === undefined ? undefined : worstCosine(node.outputs, w.outputs);
    if (webCosine !== undefined && !(webCosine >= WEB_FLOOR))
      reasons.push(
        `onnxruntime-web outputs differ from onnxruntime-node's on the same file (cosine ${webCosine.toFixed(5)} < ${WEB_FLOOR})`,
      );
    if (dtype !== 'fp32' && bytes.length >= base.length) reasons.push(`${bytes.length} bytes, not smaller than float32's ${base.length}`);
    files.set(VARIANT_FILES[dtype], bytes);
    entries.push({
      dtype,
      file: VARIANT_FILES[dtype],
      recipe,
      status: reasons.length === 0 ? 'ok' : 'failed',
      reasons,
      bytes: bytes.length,
      ratio: bytes.length / base.length,
      cosine: outs.length === 0 ? 1 : Math.min(...outs.map((o) => o.cosine)),
      floor,
      ...(top1s.length > 0 && { top1: Math.min(...top1s) }),
      ...(webCosine !== undefined && { webCosine }),
      latencyNodeMs: node.latencyMs,
      ...(w !== undefined && { latencyWebMs: w.latencyMs }),
      ...(level !== undefined && { accuracyLevel: level }),
      suits: suitedTargets(m),
    });
  };

  let q8Model: Model | undefined;
  for (const dtype of VARIANT_SETS[set]) {
    if (dtype === 'fp32') {
      await check('fp32', '', 'convert', model, refNode);
      continue;
    }
    const r = recipeOf(dtype, set, opts.feeds);
    let m: Model;
    try {
      m = (await quantize(model, r.options(model))).model;
    } catch (e) {
      entries.push(unwritten(dtype, r.recipe, 'failed', message(e)));
      continue;
    }
    if (dtype === 'bnb4' && !m.graph.nodes.some((n) => n.opType === 'MatMulBnb4')) {
      // Nothing became MatMulBnb4: the file would be float32's weights as they are, so none is written.
      entries.push(unwritten(dtype, r.recipe, 'skipped', `nothing quantized: ${noBnb4Why(model)}`));
      continue;
    }
    if (dtype !== 'q4' || !m.graph.nodes.some((n) => n.opType === 'MatMulNBits')) {
      const node = await runNode(m, feeds);
      if (dtype === 'q8') q8Model = m;
      await check(dtype, r.recipe, r.technique, m, node);
      continue;
    }
    // q4: time each accuracy_level against q8 in onnxruntime-node, interleaved; keep the fastest level whose outputs
    // still meet int4's floor.
    const floor = GATE_THRESHOLDS.int4.minCosine ?? 0;
    const runs: { level: number; m: Model; node: RuntimeRun; cosine: number }[] = [];
    for (const level of ACCURACY_LEVELS) {
      const lm = withAccuracyLevel(m, level);
      const node = await runNode(lm, feeds);
      runs.push({ level, m: lm, node, cosine: worstCosine(refNode.outputs, node.outputs) });
    }
    q8Model ??= (await quantize(model, recipeOf('q8', set, opts.feeds).options(model))).model;
    const [q8Ms = Number.NaN, ...levelMs] = await interleavedLatency([q8Model, ...runs.map((x) => x.m)], feeds[0]!);
    for (const [i, x] of runs.entries()) x.node = { ...x.node, latencyMs: levelMs[i]! };
    const fine = runs.filter((x) => x.cosine >= floor);
    const best = (fine.length > 0 ? fine : runs).reduce((a, b) => (b.node.latencyMs < a.node.latencyMs ? b : a));
    const latencyMs = Object.fromEntries(runs.map((x) => [String(x.level), x.node.latencyMs]));
    const slower = best.node.latencyMs > q8Ms;
    const nb = matmulNBitsShare(m, model);
    const slowerWhy = `; q4 is slower than q8 on this CPU at every level tried: MatMulNBits holds ${(100 * nb.share).toFixed(0)} % of the float32 weights (largest K×N ${nb.largest})${nb.share < 0.5 ? ', the rest (Conv) runs as float behind int8 DequantizeLinear where q8 runs ConvInteger' : ', matrices this small gain nothing from 4-bit reads'}; ship q8 (or int8) for CPU speed, q4 for the smallest download`;
    report = {
      latencyMs,
      q8Ms,
      chosen: best.level,
      why: `fastest level in onnxruntime-node, timed interleaved with q8 (${runs.map((x) => `level ${x.level}: ${x.node.latencyMs.toFixed(3)} ms`).join(', ')}; q8 ${q8Ms.toFixed(3)} ms)${slower ? slowerWhy : ''}`,
    };
    await check('q4', `${r.recipe}, accuracy_level ${best.level}`, r.technique, best.m, best.node, best.level);
  }
  return {
    files,
    report: {
      set,
      inputs: opts.inputs ?? 'synthetic inputs',
      float32Bytes: base.length,
      entries,
      ...(report !== undefined && { accuracyLevel: report }),
      ok: entries.every((e) => e.status !== 'failed'),
    },
  };
}

/** The entry of a variant that was not written (skipped or failed), with the reason. */
function unwritten(dtype: VariantDtype, recipe: string, status: 'skipped' | 'failed', reason: string): VariantEntry {
  return {
    dtype,
    file: VARIANT_FILES[dtype],
    recipe,
    status,
    reasons: [reason],
    bytes: 0,
    ratio: 0,
    cosine: 0,
    floor: 0,
    latencyNodeMs: 0,
    suits: [],
  };
}

/** 2 GiB: protobuf's limit; larger variants are written with external data (`model.onnx_data`). */
const PROTOBUF_LIMIT = 2 ** 31;

/**
 * Writes what {@link variants} made into `outdir/onnx/` under the transformers.js names, plus `outdir/variants.json`
 * (the report). Each file is written to a temporary name and renamed.
 */
export function writeVariants(result: VariantsResult, outdir: string): string[] {
  const dir = join(outdir, 'onnx');
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, bytes] of result.files) {
    if (bytes.length >= PROTOBUF_LIMIT)
      throw new McError(
        'E_UNSUPPORTED',
        `variants: ${name} is over 2 GiB; write it with saveOnnx(model, path, { externalData: {} }) instead`,
      );
    const path = join(dir, name);
    writeFileSync(`${path}.tmp`, bytes);
    renameSync(`${path}.tmp`, path);
    written.push(path);
  }
  const report = join(outdir, 'variants.json');
  writeFileSync(`${report}.tmp`, `${JSON.stringify(result.report, null, 2)}\n`);
  renameSync(`${report}.tmp`, report);
  return [...written, report];
}
