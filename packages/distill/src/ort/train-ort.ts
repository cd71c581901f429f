import { layoutForInput, type Batch, type BatchLayout, type BatchOptions, type Dataset } from '@mc/datasets';
import { McError, type McWarning, type Model } from '@mc/ir';
import { dropoutMaskData } from '../kernels/dropout.js';
import { scheduledLr } from '../optimizer.js';
import type { DistillOptions, OptimizerOptions } from '../options.js';
import type { EpochReport, TrainReport } from '../report.js';
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
      if (n.inputs[1]?.isInitializer() && trainable.has(n.inputs[1].name)) bnScales.push(n.inputs[1].name);
      const stats = [f32(3, n), f32(4, n)];
      if ((opts.batchNorm ?? 'batch') === 'batch' && stats.every((s) => s !== undefined)) for (const s of stats) state.add(s!);
    }
  }
  return { trainable, state, bnScales };
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Batch data in layout `from` as layout `to` (same samples; only NHWC moves elements). */
function relayout(x: Float32Array, dims: readonly number[], from: BatchLayout, to: BatchLayout, sample: readonly number[]): [Float32Array, number[]] {
  const n = dims[0]!;
  const [c, h, w] = sample.length === 3 ? (sample as [number, number, number]) : [1, 1, sample.reduce((a, b) => a * b, 1)];
  const shape = (l: BatchLayout): number[] => (l === 'flat' ? [n, c * h * w] : l === 'NHW' ? [n, h, w] : l === 'NHWC' ? [n, h, w, c] : [n, ...sample]);
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
function lossOf(z: Float32Array, k: number, target: Float32Array | undefined, teacher: Float32Array | undefined, alpha: number, T: number): { loss: number; argmax: Int32Array } {
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
  if (trainable.size === 0) throw new McError('E_OPTION', 'the model has no trainable float32 initializers (all frozen?); nothing to train');
  const input = s.model.graph.inputs.find((v) => !v.isInitializer())!;
  const layout: BatchLayout = layoutForInput(s.data, input.shape, input.name);
  const k = s.data.numClasses;
  const T = o.temperature ?? 4;
  const alpha = s.technique === 'distill' ? (o.alpha ?? 0.9) : 0;
  const unlabeled = s.technique === 'distill' && o.unlabeled === true;
  if (!unlabeled && !s.data.hasLabels) {
    throw new McError('E_OPTION', `dataset '${s.data.name}' has no labels; ${s.technique === 'distill' ? 'pass unlabeled: true (--unlabeled) to let the teacher label it' : 'fine-tuning needs labels, or use distill with the original model as teacher'}`);
  }
  const bnMomentum = o.bnMomentum ?? 0.99;
  const trainGraph = buildOrtGraph(s.model, { trainable, state, bnMomentum, loss: { alpha, temperature: T } });
  if (trainGraph.classes !== k) {
    const out = logitsOf(s.model).logits;
    throw new McError('E_FORMAT', `model output '${out.name}' has shape [N, ${trainGraph.classes}]; expected [batch, ${k}] class scores for dataset '${s.data.name}'`);
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
      if (tin === undefined || s.teacherModel.graph.inputs.filter((v) => !v.isInitializer()).length !== 1) throw new McError('E_UNSUPPORTED', 'the teacher must have one input; mc distils single-input classifiers');
      const tl = layoutForInput(s.data, tin.shape, tin.name);
      teacher = { runner: await open(buildOrtGraph(s.teacherModel, { trainable: new Set(), state: new Set(), bnMomentum })), layout: tl };
    }
    const weights: Weights = initialValues(s.model, trainGraph.weights);
    const params = new Map([...trainable].map((n) => [n, weights.get(n)!.data]));
    // Masks: fixed zeros stay zero (pruned models).
    const masks = new Map<string, Float32Array>();
    if (o.masks === 'zeros') {
      for (const n of trainable) if (weights.get(n)!.dims.length >= 2) masks.set(n, Float32Array.from(weights.get(n)!.data, (v) => (v !== 0 ? 1 : 0)));
    } else if (o.masks !== undefined && o.masks !== 'none') {
      for (const [name, m] of Object.entries(o.masks)) {
        const w = params.get(name);
        if (w === undefined) throw new McError('E_OPTION', `mask given for '${name}', which is not a trainable initializer of the model`);
        if (m.length !== w.length) throw new McError('E_OPTION', `mask for '${name}' has ${m.length} entries, the weight has ${w.length}`);
        const mm = Float32Array.from(m, (x) => (x ? 1 : 0));
        masks.set(name, mm);
        for (let i = 0; i < w.length; i++) w[i]! *= mm[i]!;
      }
    }
    const optSpec: OptimizerOptions = typeof o.optimizer === 'string' ? { type: o.optimizer } : (o.optimizer ?? { type: 'adam' });
    const opt = new ArrayOptimizer(optSpec, o.weightDecay ?? 0, masks);
    const baseLr = o.learningRate ?? (optSpec.type === 'adam' ? 1e-3 : 0.01);
    const epochs = o.epochs ?? 1;
    const seed = o.seed ?? 0;
    let train = s.data;
    if (o.limit !== undefined && o.limit < train.size) train = train.subset(Array.from({ length: o.limit }, (_, i) => i));
    let val = o.validation;
    if (val === undefined && (o.validationSplit ?? 0) > 0) [train, val] = train.split(o.validationSplit!, seed);
    if (unlabeled) {
      train = train.withoutLabels();
      val = val?.withoutLabels();
    }
    const batchBase: BatchOptions = { batchSize: o.batchSize ?? 64, layout, seed };
    for (const key of ['scale', 'mean', 'std'] as const) if (o[key] !== undefined) Object.assign(batchBase, { [key]: o[key] });
    const lambda = o.bnL1 ?? 0;
    const warnings: McWarning[] = [];
    const weightFeeds = (): Record<string, [Float32Array, readonly number[]]> => Object.fromEntries([...weights].map(([n, w]) => [n, [w.data, w.dims]]));

    // Without augmentation the teacher's logits for a sample never change: compute each once, reuse every epoch.
    const cache = teacher !== undefined && o.augment === undefined ? { z: new Float32Array(train.size * k), done: new Uint8Array(train.size) } : undefined;
    const teacherLogits = async (b: Batch): Promise<Float32Array | undefined> => {
      if (teacher === undefined) return undefined;
      const n = b.indices.length;
      if (cache !== undefined && b.indices.every((i) => cache.done[i] === 1)) {
        const z = new Float32Array(n * k);
        b.indices.forEach((i, r) => z.set(cache.z.subarray(i * k, (i + 1) * k), r * k));
        return z;
      }
      const tg = teacher.runner.graph;
      const z = (await teacher.runner.run({ [tg.input]: relayout(b.x, b.dims, layout, teacher.layout, s.data.inputShape) }, [tg.logits])).get(tg.logits)!;
      if (z.length !== n * k) throw new McError('E_FORMAT', `teacher scores [${n}, ${z.length / n}], student and dataset '${s.data.name}' ${k} classes; distil between models of the same task`);
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
      for await (const b of val.batches({ ...batchBase, batchSize: 256, shuffle: false })) {
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

    const snapshot = (): Weights => new Map([...weights].map(([n, w]) => [n, { data: Float32Array.from(w.data), dims: w.dims }]));
    const restore = (from: Weights) => {
      for (const [n, w] of from) weights.get(n)!.data.set(w.data);
    };
    const history: EpochReport[] = [];
    const stepMs: number[] = [];
    let lastGood = snapshot();
    let best: { loss: number; epoch: number; weights: Weights } | undefined;
    let stoppedBy: TrainReport['stoppedBy'] = 'epochs';
    let steps = 0;
    const stepsPerEpoch = Math.ceil(train.size / (batchBase.batchSize ?? 64));
    const fetch = [trainGraph.loss!, ...trainGraph.grads.values(), ...trainGraph.stateOut.values()];
    const maskBufs = new Map<string, Float32Array>();
    outer: for (let epoch = 0; epoch < epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let n = 0;
      let i = 0;
      let lr = baseLr;
      const batchOpts: BatchOptions = { ...batchBase, shuffle: true, epoch };
      if (o.augment !== undefined) batchOpts.augment = o.augment;
      for await (const b of train.batches(batchOpts)) {
        o.signal?.throwIfAborted();
        lr = scheduledLr(baseLr, o.schedule ?? 'constant', epoch, i / stepsPerEpoch, epochs);
        const ts = performance.now();
        const rows = b.indices.length;
        const stepSeed = seed * 1_000_003 + steps;
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
        stepMs.push(performance.now() - ts);
        if (!Number.isFinite(lossVal)) {
          restore(lastGood);
          const msg = `loss became ${lossVal} at epoch ${epoch + 1}, step ${i + 1}; weights were restored to the last good epoch (${history.length}). Lower the learning rate (now ${lr}) or check the data scaling`;
          if ((o.onNaN ?? 'throw') === 'throw') throw new McError('E_NUMERIC', msg, { context: { step: `epoch ${epoch + 1} step ${i + 1}` } });
          warnings.push({ code: 'W_NUMERIC', message: msg });
          stoppedBy = 'nan-loss';
          break outer;
        }
        lossSum += lossVal * rows;
        n += rows;
        i++;
        steps++;
        o.onProgress?.({ type: 'step', epoch: epoch + 1, step: i, stepsPerEpoch, loss: lossVal, lr });
      }
      const v = await evaluateVal();
      const rec: EpochReport = { epoch: epoch + 1, loss: lossSum / Math.max(n, 1), lr, seconds: (performance.now() - t0) / 1000 };
      if (v !== undefined) {
        rec.valLoss = v.loss;
        rec.valAccuracy = v.accuracy;
      }
      history.push(rec);
      lastGood = snapshot();
      o.onProgress?.({ type: 'epoch', epoch: epoch + 1, epochs, loss: rec.loss, lr, seconds: rec.seconds, ...(v && { valLoss: v.loss, valAccuracy: v.accuracy }) });
      if (o.onCheckpoint) await o.onCheckpoint(withWeights(s.model, weights), { epoch: epoch + 1, loss: rec.loss, ...(v && { valLoss: v.loss }) });
      if (v !== undefined && o.earlyStopping !== undefined) {
        if (best === undefined || v.loss < best.loss - (o.earlyStopping.minDelta ?? 0)) best = { loss: v.loss, epoch: epoch + 1, weights: lastGood };
        else if (epoch + 1 - best.epoch >= o.earlyStopping.patience) {
          stoppedBy = 'early-stopping';
          break;
        }
      }
    }
    if (best !== undefined && stoppedBy === 'early-stopping') restore(best.weights);
    const report: TrainReport = {
      technique: s.technique,
      backend: 'onnxruntime-node',
      engine: 'ort',
      engineReason: s.engineReason,
      epochs: history,
      steps,
      seconds: (performance.now() - started) / 1000,
      stepMs: { median: median(stepMs.slice(1)), first: stepMs[0] ?? 0 },
      stoppedBy,
      trainSamples: train.size,
      ...(val !== undefined && { validationSamples: val.size }),
      ...(best !== undefined && { bestEpoch: best.epoch }),
      trained: [...trainable],
      masked: [...masks.keys()],
      warnings,
    };
    return { model: withWeights(s.model, weights), report };
  } finally {
    for (const r of runners) await r.release();
  }
}
