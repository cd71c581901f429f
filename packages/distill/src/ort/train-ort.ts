import { layoutForInput, type Batch, type BatchLayout, type Dataset } from '@mc/datasets';
import { McError, type Model, slotOf } from '@mc/ir';
import { dropoutMaskData } from '../kernels/dropout.js';
import { maskArrays, planRun, reportOf, runEpochs } from '../loop.js';
import type { DistillOptions } from '../options.js';
import type { TrainReport } from '../report.js';
import { rules as wasmRules } from '../rules/index.js';
import { buildOrtGraph, logitsOf, type OrtGraph } from './graph.js';
import { ArrayOptimizer } from './optimizer.js';
import { ortRules } from './rules.js';
import { initialValues, OrtRunner, withWeights } from './session.js';

type Weights = Map<string, { data: Float32Array; dims: readonly number[] }>;

/** What the onnxruntime engine trains: weight slots (minus frozen), BN running statistics, BN scales. @internal */
export function ortTrainables(model: Model, opts: DistillOptions): { trainable: Set<string>; state: Set<string>; bnScales: string[] } {
  const freeze = opts.freeze;
  const frozen = typeof freeze === 'function' ? freeze : (n: string) => (freeze ?? []).includes(n);
  const trainable = new Set<string>();
  const state = new Set<string>();
  const bnScales: string[] = [];
  const f32 = (i: number, n: Model['graph']['nodes'][number]) => {
    const v = n.inputs[i];
    return v?.isInitializer() && v.constValue?.dtype === 'float32' && !frozen(v.name) ? v.name : undefined;
  };
  for (const n of model.graph.nodes) {
    const slots = ortRules.get(n.opType)?.trainable ?? wasmRules.get(n.opType)?.trainable ?? [];
    for (const i of slots) {
      const name = f32(i, n);
      if (name !== undefined) trainable.add(name);
    }
    if (n.opType === 'BatchNormalization') {
      const scale = slotOf(n, 'scale');
      if (scale?.isInitializer() && trainable.has(scale.name)) bnScales.push(scale.name);
      const stats = [f32(3, n), f32(4, n)];
      if ((opts.batchNorm ?? 'batch') === 'batch' && stats.every((s) => s !== undefined)) for (const s of stats) state.add(s!);
    }
  }
  return { trainable, state, bnScales };
}

/** Batch data in layout `from` as layout `to` (same samples; only NHWC moves elements). */
function relayout(
  x: Float32Array,
  dims: readonly number[],
  from: BatchLayout,
  to: BatchLayout,
  sample: readonly number[],
): [Float32Array, number[]] {
  const n = dims[0]!;
  const [c, h, w] = sample.length === 3 ? (sample as [number, number, number]) : [1, 1, sample.reduce((a, b) => a * b, 1)];
  const shape = (l: BatchLayout): number[] =>
    l === 'flat' ? [n, c * h * w] : l === 'NHW' ? [n, h, w] : l === 'NHWC' ? [n, h, w, c] : [n, ...sample];
  if (from === to || (from !== 'NHWC' && to !== 'NHWC')) return [x, shape(to)];
  const out = new Float32Array(x.length);
  const hw = h * w;
  for (let b = 0; b < n; b++) {
    const o = b * c * hw;
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < hw; p++) {
        if (from === 'NHWC') out[o + ch * hw + p] = x[o + p * c + ch]!;
        else out[o + p * c + ch] = x[o + ch * hw + p]!;
      }
    }
  }
  return [out, shape(to)];
}

/** Mean loss of logits rows, as the training graph computes it (for validation). */
function lossOf(
  z: Float32Array,
  k: number,
  target: Float32Array | undefined,
  teacher: Float32Array | undefined,
  alpha: number,
  T: number,
): { loss: number; argmax: Int32Array } {
  const n = z.length / k;
  const argmax = new Int32Array(n);
  let total = 0;
  const lse = (row: number, s: number, src: Float32Array) => {
    let m = -Infinity;
    for (let j = 0; j < k; j++) m = Math.max(m, src[row * k + j]! / s);
    let e = 0;
    for (let j = 0; j < k; j++) e += Math.exp(src[row * k + j]! / s - m);
    return m + Math.log(e);
  };
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (z[r * k + j]! > z[r * k + best]!) best = j;
    argmax[r] = best;
    if (alpha < 1 && target !== undefined) {
      const l = lse(r, 1, z);
      for (let j = 0; j < k; j++) total -= (1 - alpha) * target[r * k + j]! * (z[r * k + j]! - l);
    }
    if (alpha > 0 && teacher !== undefined) {
      const lz = lse(r, T, z);
      const lt = lse(r, T, teacher);
      for (let j = 0; j < k; j++) total -= alpha * T * T * Math.exp(teacher[r * k + j]! / T - lt) * (z[r * k + j]! / T - lz);
    }
  }
  return { loss: total / Math.max(n, 1), argmax };
}

/** @internal The training loop on onnxruntime-node: one generated graph for loss + gradients, the optimizer in JS. */
export async function trainLoopOrt(s: {
  technique: 'finetune' | 'distill';
  model: Model;
  data: Dataset;
  opts: DistillOptions;
  teacherModel?: Model;
  engineReason: string;
}): Promise<{ model: Model; report: TrainReport }> {
  const o = s.opts;
  const started = performance.now();
  const { trainable, state, bnScales } = ortTrainables(s.model, o);
  if (trainable.size === 0)
    throw new McError('E_OPTION', 'the model has no trainable float32 initializers (all frozen?); nothing to train');
  const input = s.model.graph.inputs.find((v) => !v.isInitializer())!;
  const layout: BatchLayout = layoutForInput(s.data, input.shape, input.name);
  const plan = planRun(s.technique, s.data, o, layout);
  const { k, alpha, unlabeled, temperature: T } = plan;
  const bnMomentum = o.bnMomentum ?? 0.99;
  const trainGraph = buildOrtGraph(s.model, { trainable, state, bnMomentum, loss: { alpha, temperature: T } });
  if (trainGraph.classes !== k) {
    const out = logitsOf(s.model).logits;
    throw new McError(
      'E_FORMAT',
      `model output '${out.name}' has shape [N, ${trainGraph.classes}]; expected [batch, ${k}] class scores for dataset '${s.data.name}'`,
    );
  }
  const evalGraph = buildOrtGraph(s.model, { trainable, state, bnMomentum });
  const runners: OrtRunner[] = [];
  const open = async (g: OrtGraph) => {
    const r = await OrtRunner.create(g, o.threads);
    runners.push(r);
    return r;
  };
  try {
    const trainer = await open(trainGraph);
    const evaluator = await open(evalGraph);
    let teacher: { runner: OrtRunner; layout: BatchLayout } | undefined;
    if (s.teacherModel !== undefined) {
      const tin = s.teacherModel.graph.inputs.find((v) => !v.isInitializer());
      if (tin === undefined || s.teacherModel.graph.inputs.filter((v) => !v.isInitializer()).length !== 1)
        throw new McError('E_UNSUPPORTED', 'the teacher must have one input; mc distils single-input classifiers');
      const tl = layoutForInput(s.data, tin.shape, tin.name);
      teacher = { runner: await open(buildOrtGraph(s.teacherModel, { trainable: new Set(), state: new Set(), bnMomentum })), layout: tl };
    }
    const weights: Weights = initialValues(s.model, trainGraph.weights);
    const params = new Map([...trainable].map((n) => [n, weights.get(n)!.data]));
    // Masks: fixed zeros stay zero (pruned models).
    const masks = maskArrays(
      o.masks,
      new Map([...trainable].map((n) => [n, { data: weights.get(n)!.data, rank: weights.get(n)!.dims.length }])),
    );
    if (typeof o.masks === 'object') {
      for (const [name, m] of masks) {
        const w = params.get(name)!;
        for (let i = 0; i < w.length; i++) w[i]! *= m[i]!;
      }
    }
    const opt = new ArrayOptimizer(plan.optimizer, o.weightDecay ?? 0, masks);
    const { train, val, bnL1: lambda } = plan;
    const weightFeeds = (): Record<string, [Float32Array, readonly number[]]> =>
      Object.fromEntries([...weights].map(([n, w]) => [n, [w.data, w.dims]]));

    // Without augmentation the teacher's logits for a sample never change: compute each once, reuse every epoch.
    const cache =
      teacher !== undefined && o.augment === undefined
        ? { z: new Float32Array(train.size * k), done: new Uint8Array(train.size) }
        : undefined;
    const teacherLogits = async (b: Batch): Promise<Float32Array | undefined> => {
      if (teacher === undefined) return undefined;
      const n = b.indices.length;
      if (cache !== undefined && b.indices.every((i) => cache.done[i] === 1)) {
        const z = new Float32Array(n * k);
        b.indices.forEach((i, r) => z.set(cache.z.subarray(i * k, (i + 1) * k), r * k));
        return z;
      }
      const tg = teacher.runner.graph;
      const z = (
        await teacher.runner.run({ [tg.input]: relayout(b.x, b.dims, layout, teacher.layout, s.data.inputShape) }, [tg.logits])
      ).get(tg.logits)!;
      if (z.length !== n * k)
        throw new McError(
          'E_FORMAT',
          `teacher scores [${n}, ${z.length / n}], student and dataset '${s.data.name}' ${k} classes; distil between models of the same task`,
        );
      if (cache !== undefined) {
        b.indices.forEach((i, r) => {
          cache.z.set(z.subarray(r * k, (r + 1) * k), i * k);
          cache.done[i] = 1;
        });
      }
      return z;
    };
    /** One-hot targets: the labels, or the teacher's arg-max (label-free). */
    const oneHot = (b: Batch, tz: Float32Array | undefined): Float32Array => {
      const n = b.indices.length;
      const y = new Float32Array(n * k);
      for (let r = 0; r < n; r++) {
        let c = unlabeled ? 0 : b.labels[r]!;
        if (unlabeled) for (let j = 1; j < k; j++) if (tz![r * k + j]! > tz![r * k + c]!) c = j;
        if (!(c >= 0 && c < k)) throw new McError('E_FORMAT', `label ${c} is outside the ${k} classes of dataset '${s.data.name}'`);
        y[r * k + c] = 1;
      }
      return y;
    };

    const evaluateVal = async (): Promise<{ loss: number; accuracy: number } | undefined> => {
      if (val === undefined) return undefined;
      let lossSum = 0;
      let correct = 0;
      let n = 0;
      for await (const b of val.batches({ ...plan.batch, batchSize: 256, shuffle: false })) {
        const z = (await evaluator.run({ ...weightFeeds(), [evalGraph.input]: [b.x, b.dims] }, [evalGraph.logits])).get(evalGraph.logits)!;
        const tz = await teacherLogits(b);
        const y = alpha < 1 ? oneHot(b, tz) : undefined;
        const r = lossOf(z, k, y, tz, alpha, T);
        const labels = unlabeled ? lossOf(tz!, k, undefined, undefined, 1, 1).argmax : b.labels;
        for (let i = 0; i < r.argmax.length; i++) if (r.argmax[i] === labels[i]) correct++;
        lossSum += r.loss * b.indices.length;
        n += b.indices.length;
      }
      return { loss: lossSum / Math.max(n, 1), accuracy: correct / Math.max(n, 1) };
    };

    const fetch = [trainGraph.loss!, ...trainGraph.grads.values(), ...trainGraph.stateOut.values()];
    const maskBufs = new Map<string, Float32Array>();
    const step = async (b: Batch, lr: number, stepSeed: number): Promise<number> => {
      const rows = b.indices.length;
      const feeds = weightFeeds();
      feeds[trainGraph.input] = [b.x, b.dims];
      const tz = await teacherLogits(b);
      if (trainGraph.teacher !== undefined) feeds[trainGraph.teacher] = [tz!, [rows, k]];
      if (trainGraph.target !== undefined) feeds[trainGraph.target] = [oneHot(b, tz), [rows, k]];
      for (const d of trainGraph.dropouts) {
        const size = rows * d.dims.reduce((a, c) => a * c, 1);
        let buf = maskBufs.get(d.name);
        if (buf?.length !== size) maskBufs.set(d.name, (buf = new Float32Array(size)));
        // The wasm engine's seed for this node in this step (same stream; identical masks on [N, features] tensors).
        feeds[d.name] = [dropoutMaskData(size, d.ratio, stepSeed * 7919 + d.node, buf), [rows, ...d.dims]];
      }
      const out = await trainer.run(feeds, fetch);
      let lossVal = out.get(trainGraph.loss!)![0]!;
      const grads = new Map([...trainGraph.grads].map(([w, name]) => [w, out.get(name)!]));
      if (lambda > 0) {
        for (const name of bnScales) {
          const w = params.get(name)!;
          const g = grads.get(name)!;
          for (let j = 0; j < w.length; j++) {
            lossVal += lambda * Math.abs(w[j]!);
            g[j]! += lambda * Math.sign(w[j]!);
          }
        }
      }
      if (Number.isFinite(lossVal)) {
        opt.apply(params, grads, lr);
        for (const [name, outName] of trainGraph.stateOut) weights.get(name)!.data.set(out.get(outName)!);
      }
      return lossVal;
    };
    const r = await runEpochs(plan, o, {
      step,
      validate: evaluateVal,
      snapshot: (): Weights => new Map([...weights].map(([n, w]) => [n, { data: Float32Array.from(w.data), dims: w.dims }])),
      restore: (from: Weights) => {
        for (const [n, w] of from) weights.get(n)!.data.set(w.data);
      },
      model: () => withWeights(s.model, weights),
    });
    const report: TrainReport = {
      ...reportOf(s.technique, plan, r, started),
      backend: 'onnxruntime-node',
      engine: 'ort',
      engineReason: s.engineReason,
      trained: [...trainable],
      masked: [...masks.keys()],
    };
    return { model: withWeights(s.model, weights), report };
  } finally {
    for (const r of runners) await r.release();
  }
}
