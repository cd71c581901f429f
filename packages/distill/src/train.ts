import * as tf from '@tensorflow/tfjs-core';
import { layoutForInput, type Batch, type BatchLayout, type BatchOptions, type Dataset } from '@mc/datasets';
import { McError, type McWarning, type Model, type Tensor } from '@mc/ir';
import { initTraining } from './backend.js';
import { TrainableGraph } from './graph/compile.js';
import { crossEntropy, distillLoss } from './losses.js';
import { Optimizer, scheduledLr } from './optimizer.js';
import type { DistillOptions, OptimizerOptions } from './options.js';
import type { EpochReport, TrainReport } from './report.js';
import { ortUnsupported } from './ort/graph.js';
import { ortTrainables, trainLoopOrt } from './ort/train-ort.js';

/** A teacher for the loss: given the batch input, its logits. @internal */
export type TeacherFn = (x: tf.Tensor, layout: BatchLayout) => tf.Tensor;

/** @internal */
export interface LoopSetup {
  technique: 'finetune' | 'distill';
  model: Model;
  data: Dataset;
  opts: DistillOptions;
  /** Builds the teacher once the backend is up (distill only). */
  teacher?: () => { fn: TeacherFn; dispose(): void; numClasses: number };
  /** The teacher model itself (distill only), for the onnxruntime engine. */
  teacherModel?: Model;
}

const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length === 0 ? 0 : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** True when every use of `v` is the X input of a Conv: then the data can arrive NHWC and skip a transpose. */
const onlyConvUses = (g: TrainableGraph): boolean => {
  const v = g.inputs[0];
  const uses = v?.uses() ?? [];
  return uses.length > 0 && uses.every((u) => u.node.opType === 'Conv' && u.index === 0);
};

/** @internal The training loop shared by finetune and distill. */
export async function trainLoop(s: LoopSetup): Promise<{ model: Model; report: TrainReport }> {
  const o = s.opts;
  const engine = o.engine ?? 'auto';
  let engineReason = "requested (engine: 'wasm')";
  if (engine !== 'wasm') {
    const why = ortUnsupported(s.model, ortTrainables(s.model, o).trainable);
    if (why === undefined) {
      const reason = engine === 'ort' ? "requested (engine: 'ort')" : 'auto: every op on a path to a trained weight has an onnxruntime gradient rule';
      try {
        return await trainLoopOrt({ ...s, engineReason: reason });
      } catch (e) {
        // onnxruntime refused the generated graph (sessions open before any step): 'auto' trains on wasm instead.
        if (engine === 'ort' || !(McError.is(e) && e.code === 'E_UNSUPPORTED' && /generated training graph/.test(e.message))) throw e;
        engineReason = `auto: ${e.message}`;
      }
    } else {
      if (engine === 'ort') throw new McError('E_UNSUPPORTED', `engine 'ort' cannot train this model: ${why}; use engine: 'wasm' (or 'auto')`);
      engineReason = `auto: ${why}`;
    }
  }
  const started = performance.now();
  const backend = await initTraining('wasm');
  const freeze = o.freeze;
  const frozen = typeof freeze === 'function' ? freeze : (n: string) => (freeze ?? []).includes(n);
  const g = new TrainableGraph(s.model, { trainable: (n) => !frozen(n), batchNorm: o.batchNorm ?? 'batch', ...(o.bnMomentum !== undefined && { bnMomentum: o.bnMomentum }) });
  const teacher = s.teacher?.();
  const masks = new Map<string, tf.Tensor>();
  let opt: Optimizer | undefined;
  try {
    const input = g.inputs[0];
    if (input === undefined || g.inputs.length !== 1) {
      throw new McError('E_UNSUPPORTED', `model has ${g.inputs.length} inputs; mc trains single-input classifiers`);
    }
    const layout0: BatchLayout = layoutForInput(s.data, input.shape, input.name);
    const layout: BatchLayout = layout0 === 'NCHW' && onlyConvUses(g) ? 'NHWC' : layout0;
    const inputLayout = layout === 'NHWC' && layout0 === 'NCHW' ? 'NHWC' : 'NCHW';
    const k = s.data.numClasses;
    const T = o.temperature ?? 4;
    const alpha = s.technique === 'distill' ? (o.alpha ?? 0.9) : 0;
    const unlabeled = s.technique === 'distill' && o.unlabeled === true;
    if (!unlabeled && !s.data.hasLabels) {
      throw new McError('E_OPTION', `dataset '${s.data.name}' has no labels; ${s.technique === 'distill' ? 'pass unlabeled: true (--unlabeled) to let the teacher label it' : 'fine-tuning needs labels, or use distill with the original model as teacher'}`);
    }
    if (teacher !== undefined && teacher.numClasses !== k) {
      throw new McError('E_FORMAT', `teacher scores ${teacher.numClasses} classes, dataset '${s.data.name}' has ${k}; distil between models of the same task`);
    }
    // Masks: fixed zeros stay zero (pruned models).
    if (o.masks === 'zeros') {
      for (const [name, v] of g.params) if (v.rank >= 2) masks.set(name, tf.tidy(() => tf.cast(tf.notEqual(v, 0), 'float32')));
    } else if (o.masks !== undefined && o.masks !== 'none') {
      for (const [name, m] of Object.entries(o.masks)) {
        const v = g.params.get(name);
        if (v === undefined) throw new McError('E_OPTION', `mask given for '${name}', which is not a trainable initializer of the model`);
        if (m.length !== v.size) throw new McError('E_OPTION', `mask for '${name}' has ${m.length} entries, the weight has ${v.size}`);
        masks.set(name, tf.tensor(Float32Array.from(m, (x) => (x ? 1 : 0)), v.shape));
      }
      for (const [name, m] of masks) tf.tidy(() => g.params.get(name)!.assign(tf.mul(g.params.get(name)!, m)));
    }
    const optSpec: OptimizerOptions = typeof o.optimizer === 'string' ? { type: o.optimizer } : (o.optimizer ?? { type: 'adam' });
    opt = new Optimizer(optSpec, o.weightDecay ?? 0, masks);
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
    const bnScales = g.bnScales.filter((n) => g.params.has(n));
    const lambda = o.bnL1 ?? 0;
    const vars = [...g.params.values()];
    const warnings: McWarning[] = [];
    if (vars.length === 0) throw new McError('E_OPTION', 'the model has no trainable float32 initializers (all frozen?); nothing to train');

    const toX = (b: Batch) => tf.tensor(b.x, [...b.dims], 'float32');
    /** Labels for the hard loss: the data's, or the teacher's arg-max (label-free). */
    const hardLabels = (b: Batch, tz: tf.Tensor | undefined): tf.Tensor1D =>
      unlabeled ? (tf.argMax(tz!, -1) as tf.Tensor1D) : tf.tensor1d(b.labels, 'int32');
    const objective = (b: Batch, x: tf.Tensor, tz: tf.Tensor | undefined, training: boolean, stepSeed: number) => {
      const z = g.forward([x], { training, seed: stepSeed, inputLayout, logits: true });
      if (z.rank !== 2 || z.shape[1] !== k) {
        throw new McError('E_FORMAT', `model output '${g.logits.name}' has shape [${z.shape.join(', ')}]; expected [batch, ${k}] class scores for dataset '${s.data.name}'`);
      }
      if (tz !== undefined && (tz.rank !== 2 || tz.shape[1] !== k)) {
        throw new McError('E_FORMAT', `teacher scores [${tz.shape.join(', ')}], student and dataset '${s.data.name}' ${k} classes; distil between models of the same task`);
      }
      const y = hardLabels(b, tz);
      let loss = tz === undefined ? crossEntropy(z, y, k) : distillLoss(z, tz, y, k, T, alpha);
      if (lambda > 0 && training) for (const n of bnScales) loss = tf.add(loss, tf.mul(tf.sum(tf.abs(g.params.get(n)!)), lambda));
      return { loss, z, y };
    };

    const evaluateVal = async (): Promise<{ loss: number; accuracy: number } | undefined> => {
      if (val === undefined) return undefined;
      let lossSum = 0;
      let correct = 0;
      let n = 0;
      for await (const b of val.batches({ ...batchBase, batchSize: 256, shuffle: false })) {
        const [l, c] = tf.tidy(() => {
          const x = toX(b);
          const { loss, z, y } = objective(b, x, teacher?.fn(x, layout), false, 0);
          const hit = tf.sum(tf.cast(tf.equal(tf.argMax(z, -1), y), 'float32'));
          return [loss.dataSync()[0]!, hit.dataSync()[0]!];
        });
        lossSum += l * b.labels.length;
        correct += c;
        n += b.labels.length;
      }
      return { loss: lossSum / Math.max(n, 1), accuracy: correct / Math.max(n, 1) };
    };

    // Without augmentation the teacher's logits for a sample never change: compute each once, reuse every epoch.
    const cache = teacher !== undefined && o.augment === undefined ? { z: new Float32Array(train.size * k), done: new Uint8Array(train.size) } : undefined;
    const teacherLogits = (b: Batch, x: tf.Tensor): tf.Tensor | undefined => {
      if (teacher === undefined) return undefined;
      if (cache === undefined) return teacher.fn(x, layout);
      const n = b.indices.length;
      if (b.indices.every((i) => cache.done[i] === 1)) {
        const z = new Float32Array(n * k);
        b.indices.forEach((i, r) => z.set(cache.z.subarray(i * k, (i + 1) * k), r * k));
        return tf.tensor2d(z, [n, k]);
      }
      const tz = teacher.fn(x, layout);
      if (tz.rank === 2 && tz.shape[1] === k) {
        const d = tz.dataSync();
        b.indices.forEach((i, r) => {
          cache.z.set(d.subarray(r * k, (r + 1) * k), i * k);
          cache.done[i] = 1;
        });
      }
      return tz;
    };

    const history: EpochReport[] = [];
    const stepMs: number[] = [];
    let lastGood: Map<string, Tensor<'float32'>> = g.weights();
    let best: { loss: number; epoch: number; weights: Map<string, Tensor<'float32'>> } | undefined;
    let stoppedBy: TrainReport['stoppedBy'] = 'epochs';
    let steps = 0;
    const stepsPerEpoch = Math.ceil(train.size / (batchBase.batchSize ?? 64));
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
        const lossVal = tf.tidy(() => {
          const x = toX(b);
          const stepSeed = seed * 1_000_003 + steps;
          const tz = teacherLogits(b, x); // outside the tape: no gradient flows into the teacher
          const { value, grads } = tf.variableGrads(() => objective(b, x, tz, true, stepSeed).loss, vars);
          const l = value.dataSync()[0]!;
          if (Number.isFinite(l)) opt!.apply(g.params, grads, lr);
          return l;
        });
        stepMs.push(performance.now() - ts);
        if (!Number.isFinite(lossVal)) {
          g.assign(lastGood);
          const msg = `loss became ${lossVal} at epoch ${epoch + 1}, step ${i + 1}; weights were restored to the last good epoch (${history.length}). Lower the learning rate (now ${lr}) or check the data scaling`;
          if ((o.onNaN ?? 'throw') === 'throw') throw new McError('E_NUMERIC', msg, { context: { step: `epoch ${epoch + 1} step ${i + 1}` } });
          warnings.push({ code: 'W_NUMERIC', message: msg });
          stoppedBy = 'nan-loss';
          break outer;
        }
        lossSum += lossVal * b.labels.length;
        n += b.labels.length;
        i++;
        steps++;
        o.onProgress?.({ type: 'step', epoch: epoch + 1, step: i, stepsPerEpoch, loss: lossVal, lr });
        if (i % 8 === 0) await new Promise((r) => setImmediate(r)); // let abort signals and timers run
      }
      const v = await evaluateVal();
      const rec: EpochReport = { epoch: epoch + 1, loss: lossSum / Math.max(n, 1), lr, seconds: (performance.now() - t0) / 1000 };
      if (v !== undefined) {
        rec.valLoss = v.loss;
        rec.valAccuracy = v.accuracy;
      }
      history.push(rec);
      lastGood = g.weights();
      o.onProgress?.({ type: 'epoch', epoch: epoch + 1, epochs, loss: rec.loss, lr, seconds: rec.seconds, ...(v && { valLoss: v.loss, valAccuracy: v.accuracy }) });
      if (o.onCheckpoint) await o.onCheckpoint(g.writeBack(), { epoch: epoch + 1, loss: rec.loss, ...(v && { valLoss: v.loss }) });
      if (v !== undefined && o.earlyStopping !== undefined) {
        if (best === undefined || v.loss < best.loss - (o.earlyStopping.minDelta ?? 0)) best = { loss: v.loss, epoch: epoch + 1, weights: lastGood };
        else if (epoch + 1 - best.epoch >= o.earlyStopping.patience) {
          stoppedBy = 'early-stopping';
          break;
        }
      }
    }
    if (best !== undefined && stoppedBy === 'early-stopping') g.assign(best.weights);
    const model = g.writeBack();
    const report: TrainReport = {
      technique: s.technique,
      backend,
      engine: 'wasm',
      engineReason,
      epochs: history,
      steps,
      seconds: (performance.now() - started) / 1000,
      stepMs: { median: median(stepMs.slice(1)), first: stepMs[0] ?? 0 },
      stoppedBy,
      trainSamples: train.size,
      ...(val !== undefined && { validationSamples: val.size }),
      ...(best !== undefined && { bestEpoch: best.epoch }),
      trained: [...g.params.keys()],
      masked: [...masks.keys()],
      warnings,
    };
    return { model, report };
  } finally {
    opt?.dispose();
    for (const m of masks.values()) m.dispose();
    teacher?.dispose();
    g.dispose();
  }
}
