/**
 * Least-squares reconstruction after channel pruning (ThiNet, Luo et al. 2017; He et al. 2017): every layer that reads
 * pruned channels gets the weights and bias that best reproduce, on calibration data, what the same layer of the
 * unpruned model computed for its kept output channels, given the inputs the pruned model now feeds it. Layers are
 * refitted in graph order, so each one also absorbs the error of the ones before it. Only inference is needed (no
 * gradients, no training graph), so it works on any model onnxruntime can run.
 */
import {
  attrOf,
  choleskyLower,
  ModelBuilder,
  type Feeds,
  McError,
  type Model,
  type Node,
  resolvePads,
  seededRandom,
  slotOf,
  Tensor,
  type Value,
} from '@mc/ir';
import type { PassedThrough } from './report.js';
import type { PruneResult } from './prune.js';
import type { PruneProgress } from './options.js';

/** Options of {@link reconstruct}. */
export interface ReconstructOptions {
  /** Model inputs to run (read into memory once; every layer runs them again). A few hundred to a few thousand images. */
  calibration: Iterable<Feeds> | AsyncIterable<Feeds>;
  /**
   * Least-squares rows per layer, as a multiple of the layer's unknowns per output channel (default 64); Conv layers
   * sample that many output positions spread over the calibration images.
   */
  rowsPerUnknown?: number;
  /** Ridge term, relative to the mean diagonal of XᵀX (default 1e-3). */
  ridge?: number;
  /** Layers with more unknowns per output channel (inputs × kernel + 1) are left as they are (default 4,608). */
  maxUnknowns?: number;
  /** Seed of the sampled positions (default 0). */
  seed?: number;
  onProgress?: (event: PruneProgress) => void;
  signal?: AbortSignal;
}

/**
 * What {@link reconstruct} uses for an option left unset, for CLIs and docs.
 * @example
 * RECONSTRUCT_DEFAULTS.ridge; // 1e-3
 */
export const RECONSTRUCT_DEFAULTS = {
  rowsPerUnknown: 64,
  ridge: 1e-3,
  maxUnknowns: 4608,
  seed: 0,
  /** Calibration samples to pass (what `mc prune --reconstruct` reads): on ResNet8 at 25 %, 256 give 67.7 % top-1, 1,000 71.1 %, 2,000 72.2 %. */
  samples: 1024,
} as const satisfies Required<Pick<ReconstructOptions, 'rowsPerUnknown' | 'ridge' | 'maxUnknowns' | 'seed'>> & { samples: number };

/** One refitted layer: relative output error ‖XW − Y‖/‖Y‖ on the calibration rows before and after. */
export interface ReconstructedLayer {
  node: string;
  opType: string;
  before: number;
  after: number;
  rows: number;
}

/** Report of {@link reconstruct}. */
export interface ReconstructReport {
  layers: ReconstructedLayer[];
  /** Layers reading pruned channels that were left as they are, with the reason (also: too few calibration rows). */
  skipped: PassedThrough[];
  /** Calibration samples (first dimension of the feeds, summed). */
  samples: number;
}

/** A layer to refit: y = x·W (+ b), with x laid out as `features` per row. */
interface Layer {
  node: Node;
  weight: Value;
  bias?: Value | undefined;
  /** The value whose kept channels are the target (the layer output, or the bias Add's output). */
  target: string;
  /** Pruned output index → original output index. */
  keptOut: number[];
  kind: 'conv' | 'matmul' | 'gemm';
  /** Inputs per row (without the bias column). */
  features: number;
  outs: number;
}

function keptOutputs(node: string, total: number, removed: Map<string, number[]>): number[] {
  const gone = new Set(removed.get(node) ?? []);
  return Array.from({ length: total }, (_, i) => i).filter((i) => !gone.has(i));
}

/** The layers that read pruned channels and can be refitted; the rest are returned as skipped with the reason. */
function layersOf(original: Model, pruned: PruneResult, maxUnknowns: number): { layers: Layer[]; skipped: PassedThrough[] } {
  const removed = new Map<string, number[]>();
  const readers = new Set<string>();
  for (const g of pruned.report.groups) {
    if (g.removed === 0) continue;
    for (const [root, idx] of Object.entries(g.removedChannels)) removed.set(root, idx);
    for (const m of g.members) if (m.role === 'in') readers.add(m.node);
  }
  const orig = new Map(original.graph.nodes.map((n) => [n.name, n]));
  const layers: Layer[] = [];
  const skipped: PassedThrough[] = [];
  const skip = (n: Node, reason: string) => skipped.push({ node: n.name, opType: n.opType, reason });
  for (const node of pruned.model.graph.nodes) {
    if (!readers.has(node.name)) continue;
    const o = orig.get(node.name);
    if (o === undefined || o.opType !== node.opType) {
      skip(node, 'no node of the same name and op in the unpruned model');
      continue;
    }
    const weight = node.inputs[1];
    const w = weight?.constValue;
    if (weight === undefined || w === undefined || w.dtype !== 'float32') {
      skip(node, 'weight is not a float32 constant');
      continue;
    }
    if (weight.uses().length > 1) {
      skip(node, 'weight is shared with other nodes');
      continue;
    }
    const ow = o.inputs[1]?.constValue;
    if (ow === undefined) {
      skip(node, 'the unpruned layer has no constant weight');
      continue;
    }
    let layer: Omit<Layer, 'features' | 'outs'> & { features?: number; outs?: number };
    if (node.opType === 'Conv') {
      if (w.dims.length !== 4 || attrOf(node, 'group') !== 1) {
        skip(node, 'only 2-D convolutions with group 1 are refitted');
        continue;
      }
      const bias = slotOf(node, 'B');
      layer = { node, weight, bias, target: o.outputs[0]!.name, keptOut: keptOutputs(node.name, ow.dims[0]!, removed), kind: 'conv' };
      layer.features = w.dims[1]! * w.dims[2]! * w.dims[3]!;
      layer.outs = w.dims[0]!;
    } else if ((node.opType === 'MatMul' || node.opType === 'Gemm') && w.dims.length === 2) {
      const gemm = node.opType === 'Gemm';
      if (gemm && (attrOf(node, 'transA') !== 0 || attrOf(node, 'alpha') !== 1 || attrOf(node, 'beta') !== 1)) {
        skip(node, 'Gemm with transA or alpha/beta ≠ 1');
        continue;
      }
      const transB = gemm && attrOf(node, 'transB') === 1;
      const outs = transB ? w.dims[0]! : w.dims[1]!;
      const origOuts = transB ? ow.dims[0]! : ow.dims[1]!;
      // A bias: Gemm's C, or a constant Add that alone reads a MatMul (Keras Dense, tf2onnx).
      let bias = gemm ? slotOf(node, 'C') : undefined;
      let target = o.outputs[0]!.name;
      const uses = node.outputs[0]!.uses();
      const add = uses.length === 1 ? uses[0]!.node : undefined;
      if (!gemm && add?.opType === 'Add') {
        const c = add.inputs.find((v) => v !== undefined && v !== node.outputs[0] && v.constValue !== undefined);
        const oAdd = orig.get(add.name);
        if (c !== undefined && c.constValue!.size === outs && c.uses().length === 1 && oAdd !== undefined) {
          bias = c;
          target = oAdd.outputs[0]!.name;
        }
      }
      if (bias !== undefined && (bias.constValue?.size !== outs || bias.constValue.dtype !== 'float32' || bias.uses().length > 1)) {
        skip(node, 'bias is not a float32 constant of one value per output, read only here');
        continue;
      }
      layer = { node, weight, bias, target, keptOut: keptOutputs(node.name, origOuts, removed), kind: gemm ? 'gemm' : 'matmul' };
      layer.features = transB ? w.dims[1]! : w.dims[0]!;
      layer.outs = outs;
    } else {
      skip(node, `${node.opType} is not refitted (Conv, MatMul and Gemm are)`);
      continue;
    }
    if (layer.keptOut.length !== layer.outs) {
      skip(node, 'output channels do not match the unpruned layer');
      continue;
    }
    if (layer.features! + 1 > maxUnknowns) {
      skip(node, `${layer.features! + 1} unknowns per output channel exceed maxUnknowns ${maxUnknowns}`);
      continue;
    }
    layers.push(layer as Layer);
  }
  return { layers, skipped };
}

/** Solves (A + λ·mean(diag)·I)·X = B for X (n×k), A symmetric n×n; undefined when A is not positive definite. */
function ridgeSolve(a: Float64Array, b: Float64Array, n: number, k: number, ridge: number): Float64Array | undefined {
  const l = Float64Array.from(a);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += a[i * n + i]!;
  const add = (ridge * tr) / n;
  for (let i = 0; i < n; i++) l[i * n + i]! += add;
  if (!choleskyLower(l, n)) return undefined;
  const x = new Float64Array(n * k);
  const y = new Float64Array(n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      let s = b[i * k + c]!;
      for (let p = 0; p < i; p++) s -= l[i * n + p]! * y[p]!;
      y[i] = s / l[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i]!;
      for (let p = i + 1; p < n; p++) s -= l[p * n + i]! * x[p * k + c]!;
      x[i * k + c] = s / l[i * n + i]!;
    }
  }
  return x;
}

/** Σ_o ‖X·w_o − y_o‖² from the normal equations' sums: wᵀAw − 2wᵀb + yᵀy. */
function residual(a: Float64Array, b: Float64Array, yy: number, w: Float64Array, n: number, k: number): number {
  let e = yy;
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      const wi = w[i * k + c]!;
      if (wi === 0) continue;
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j]! * w[j * k + c]!;
      e += wi * s - 2 * wi * b[i * k + c]!;
    }
  }
  return Math.max(e, 0);
}

/** The layer's current weights as the (features + 1) × outs solution matrix (last row: bias). */
function currentSolution(l: Layer): Float64Array {
  const f = l.features;
  const w = l.weight.constValue!.data as Float32Array;
  const x = new Float64Array((f + 1) * l.outs);
  const transB = l.kind === 'gemm' && attrOf(l.node, 'transB') === 1;
  for (let o = 0; o < l.outs; o++) {
    for (let i = 0; i < f; i++) x[i * l.outs + o] = l.kind === 'conv' || transB ? w[o * f + i]! : w[i * l.outs + o]!;
    x[f * l.outs + o] = l.bias === undefined ? 0 : (l.bias.constValue!.data as Float32Array)[o]!;
  }
  return x;
}

function writeSolution(l: Layer, x: Float64Array): void {
  const f = l.features;
  const w = l.weight.constValue!;
  const out = new Float32Array(w.size);
  const transB = l.kind === 'gemm' && attrOf(l.node, 'transB') === 1;
  for (let o = 0; o < l.outs; o++) {
    for (let i = 0; i < f; i++) out[l.kind === 'conv' || transB ? o * f + i : i * l.outs + o] = x[i * l.outs + o]!;
  }
  l.weight.constValue = new Tensor('float32', w.dims, out);
  const bias = new Float32Array(l.outs);
  for (let o = 0; o < l.outs; o++) bias[o] = x[f * l.outs + o]!;
  if (l.bias !== undefined) l.bias.constValue = new Tensor('float32', l.bias.constValue!.dims, bias);
}

/** Opens an onnxruntime-node session (`@mc/verify` loads only when a reconstruction is asked for). */
async function sessionFor(model: Model): Promise<Session> {
  const { createSession } = await import('@mc/verify');
  return createSession(model, { graphOptimizationLevel: 'disabled', segments: { above: Number.POSITIVE_INFINITY } });
}

/** x [rows, n], y [rows, k] (float64) → xᵀx [n, n], xᵀy [n, k]: the block products, run by onnxruntime's GEMM. */
function gramModel(n: number, k: number): Model {
  const g = new ModelBuilder({ opset: 17 });
  const x = g.input('x', 'float64', ['rows', n]);
  const y = g.input('y', 'float64', ['rows', k]);
  const xt = g.node('Transpose', [x], { perm: [1, 0] });
  g.output(g.node('MatMul', [xt, x]), 'xtx', { dtype: 'float64', shape: [n, n] });
  g.output(g.node('MatMul', [xt, y]), 'xty', { dtype: 'float64', shape: [n, k] });
  return g.build();
}

/**
 * XᵀX, XᵀY and ΣY² of a least-squares problem, accumulated over rows: rows gather in blocks (row-major, float64) whose
 * products onnxruntime computes, summed here in float64. Fill `row` and `target`, call `add()`; when it returns true
 * the block is full and `flush()` must be awaited before the next row.
 */
class NormalEquations {
  /** The next row's inputs (the last entry: the bias column) and targets. */
  readonly row: Float64Array;
  readonly target: Float64Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  yy = 0;
  rows = 0;
  readonly #cap: number;
  readonly #xs: Float64Array;
  readonly #ys: Float64Array;
  #count = 0;
  #session: Session | undefined;

  constructor(
    readonly n: number,
    readonly k: number,
  ) {
    this.row = new Float64Array(n);
    this.target = new Float64Array(k);
    this.a = new Float64Array(n * n);
    this.b = new Float64Array(n * k);
    // About 32 MiB of rows per block.
    this.#cap = Math.max(64, Math.min(8192, Math.floor(2 ** 22 / n)));
    this.#xs = new Float64Array(this.#cap * n);
    this.#ys = new Float64Array(this.#cap * k);
  }

  add(): boolean {
    this.#xs.set(this.row, this.#count * this.n);
    this.#ys.set(this.target, this.#count * this.k);
    for (let o = 0; o < this.k; o++) this.yy += this.target[o]! * this.target[o]!;
    this.rows++;
    return ++this.#count === this.#cap;
  }

  async flush(): Promise<void> {
    const c = this.#count;
    if (c === 0) return;
    const { n, k } = this;
    this.#session ??= await sessionFor(gramModel(n, k));
    const out = await this.#session.run({
      x: new Tensor('float64', [c, n], this.#xs.subarray(0, c * n)),
      y: new Tensor('float64', [c, k], this.#ys.subarray(0, c * k)),
    });
    const xtx = out.xtx!.data as Float64Array;
    const xty = out.xty!.data as Float64Array;
    for (let i = 0; i < n * n; i++) this.a[i]! += xtx[i]!;
    for (let i = 0; i < n * k; i++) this.b[i]! += xty[i]!;
    this.#count = 0;
  }

  async release(): Promise<void> {
    await this.#session?.release();
    this.#session = undefined;
  }
}

type Session = { run(feeds: Feeds, outputs?: readonly string[]): Promise<Record<string, Tensor>>; release(): Promise<void> };

async function openProbe(model: Model, names: readonly string[]): Promise<Session> {
  const probe = model.clone();
  const values = new Map([...probe.graph.values()].map((v) => [v.name, v]));
  for (const n of names) {
    const v = values.get(n);
    if (v !== undefined && !v.isGraphInput() && !v.isGraphOutput()) probe.graph.addOutput(v);
  }
  return sessionFor(probe);
}

/**
 * Refits, by least squares on calibration data, every Conv (2-D, group 1), MatMul and Gemm that reads channels a
 * channel prune removed, so that it reproduces the unpruned model's output for its kept channels (ThiNet / He et al.
 * 2017). Pass the result of `prune(model, { mode: 'channels', … })` without `foldBatchNorm` (fold afterwards with
 * {@link foldBatchNormPass}); `pruned.model` is not changed. A layer is replaced only when its error on the calibration
 * rows falls; the report gives both errors per layer and every layer left alone with the reason.
 *
 * @example
 * ```ts
 * const thin = await prune(model, { mode: 'channels', ratio: 0.25 });
 * const { model: refit, report } = await reconstruct(model, thin, { calibration });
 * ```
 */
export async function reconstruct(
  original: Model,
  pruned: PruneResult,
  opts: ReconstructOptions,
): Promise<{ model: Model; report: ReconstructReport }> {
  const d = RECONSTRUCT_DEFAULTS;
  const { rowsPerUnknown = d.rowsPerUnknown, ridge = d.ridge, maxUnknowns = d.maxUnknowns, seed = d.seed } = opts;
  if (pruned.report.mode !== 'channels') {
    throw new McError(
      'E_OPTION',
      'reconstruct refits layers after a channel prune (mode: channels); this result comes from magnitude pruning',
    );
  }
  for (const [name, v] of [
    ['rowsPerUnknown', rowsPerUnknown],
    ['ridge', ridge],
    ['maxUnknowns', maxUnknowns],
  ] as const) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new McError('E_OPTION', `reconstruct: ${name} must be a finite number >= 0, got ${v}`);
  }
  const count = (m: Model) => m.graph.nodes.filter((n) => n.opType === 'BatchNormalization').length;
  if (count(pruned.model) < count(original)) {
    throw new McError(
      'E_OPTION',
      'reconstruct needs the pruned model with its BatchNormalization nodes (prune without foldBatchNorm, reconstruct, then fold)',
    );
  }
  const feeds: Feeds[] = [];
  for await (const f of opts.calibration) feeds.push(f);
  if (feeds.length === 0)
    throw new McError('E_OPTION', 'reconstruct: calibration yielded no feeds; pass at least one batch of model inputs');
  const samples = feeds.reduce((s, f) => s + (Object.values(f)[0]?.dims[0] ?? 1), 0);
  const model = pruned.model.clone();
  const { layers, skipped } = layersOf(original, { model, report: pruned.report }, maxUnknowns);
  const report: ReconstructReport = { layers: [], skipped, samples };
  if (layers.length === 0) return { model, report };
  const reference = await openProbe(
    original,
    layers.map((l) => l.target),
  );
  const rand = seededRandom(seed);
  try {
    for (const [index, l] of layers.entries()) {
      opts.signal?.throwIfAborted();
      opts.onProgress?.({ phase: 'reconstruct', index, total: layers.length, layer: l.node.name });
      const input = l.node.inputs[0]!.name;
      const session = await openProbe(model, [input]);
      const n = l.features + 1;
      const k = l.outs;
      const eq = new NormalEquations(n, k);
      const { row, target } = eq;
      const wanted = rowsPerUnknown * n;
      try {
        for (const f of feeds) {
          const x = (await session.run(f, [input]))[input] ?? f[input];
          const y = (await reference.run(f, [l.target]))[l.target];
          if (x === undefined || y === undefined)
            throw new McError('E_VERIFY', `reconstruct: onnxruntime returned no '${input}' or '${l.target}'`);
          const xd = x.data as Float32Array;
          const yd = y.data as Float32Array;
          if (l.kind === 'conv') {
            const [N, C, H, W] = x.dims as number[];
            const [, Oy, Ho, Wo] = y.dims as number[];
            const [, , kh, kw] = l.weight.constValue!.dims as number[];
            const { pads, strides, dilations } = resolvePads(l.node, [H!, W!], [kh!, kw!]);
            const positions = Ho! * Wo!;
            // Positions per image so that all batches together give about `wanted` rows.
            const per = Math.min(positions, Math.max(1, Math.ceil(wanted / samples)));
            for (let s = 0; s < N!; s++) {
              for (let t = 0; t < per; t++) {
                const pos = per === positions ? t : Math.floor(rand() * positions);
                const oy = Math.floor(pos / Wo!);
                const ox = pos % Wo!;
                let fi = 0;
                for (let c = 0; c < C!; c++) {
                  for (let ky = 0; ky < kh!; ky++) {
                    const iy = oy * strides[0]! - pads[0]! + ky * dilations[0]!;
                    for (let kx = 0; kx < kw!; kx++) {
                      const ix = ox * strides[1]! - pads[1]! + kx * dilations[1]!;
                      row[fi++] = iy >= 0 && iy < H! && ix >= 0 && ix < W! ? xd[((s * C! + c) * H! + iy) * W! + ix]! : 0;
                    }
                  }
                }
                row[fi] = 1;
                for (let o = 0; o < k; o++) target[o] = yd[((s * Oy! + l.keptOut[o]!) * Ho! + oy) * Wo! + ox]!;
                if (eq.add()) await eq.flush();
              }
            }
          } else {
            const origOuts = y.dims[y.dims.length - 1]!;
            const count = xd.length / l.features;
            for (let r = 0; r < count; r++) {
              for (let i = 0; i < l.features; i++) row[i] = xd[r * l.features + i]!;
              row[l.features] = 1;
              for (let o = 0; o < k; o++) target[o] = yd[r * origOuts + l.keptOut[o]!]!;
              if (eq.add()) await eq.flush();
            }
          }
        }
        await eq.flush();
      } finally {
        await session.release();
        await eq.release();
      }
      const { a, b, yy, rows } = eq;
      // Without a bias input the bias column is left out (the last row of the solution stays zero).
      const withBias = l.bias !== undefined;
      const m = withBias ? n : n - 1;
      const am = withBias ? a : a.filter((_, i) => Math.floor(i / n) < m && i % n < m);
      const bm = withBias ? b : b.subarray(0, m * k);
      if (rows < 2 * m) {
        // Fewer rows than twice the unknowns: the fit would follow the calibration rows, not the layer.
        report.skipped.push({
          node: l.node.name,
          opType: l.node.opType,
          reason: `${rows} calibration rows for ${m} unknowns per output channel; pass more samples (at least ${2 * m} rows)`,
        });
        continue;
      }
      const old = currentSolution(l);
      const before = Math.sqrt(residual(a, b, yy, old, n, k) / Math.max(yy, 1e-30));
      const solved = ridgeSolve(am, bm, m, k, ridge);
      let after = before;
      if (solved !== undefined) {
        const next = new Float64Array(n * k);
        next.set(solved);
        const e = Math.sqrt(residual(a, b, yy, next, n, k) / Math.max(yy, 1e-30));
        if (e < before) {
          writeSolution(l, next);
          after = e;
        }
      }
      report.layers.push({ node: l.node.name, opType: l.node.opType, before, after, rows });
    }
  } finally {
    await reference.release();
  }
  return { model, report };
}
