import * as tf from '@tensorflow/tfjs-core';
import { layoutForInput, type Batch, type BatchLayout, type Dataset } from '@mc/datasets';
import { McError, type Model } from '@mc/ir';
import { initTraining } from './backend.js';
import { TrainableGraph } from './graph/compile.js';
import { crossEntropy, distillLoss } from './losses.js';
import { maskArrays, planRun, reportOf, runEpochs } from './loop.js';
import { Optimizer } from './optimizer.js';
import { type DistillOptions, TRAIN_DEFAULTS } from './options.js';
import type { TrainReport } from './report.js';
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

/** True when every use of `v` is the X input of a Conv: then the data can arrive NHWC and skip a transpose. */
const onlyConvUses = (g: TrainableGraph): boolean => {
  const [v] = g.inputs;
  const uses = v?.uses() ?? [];
  return uses.length > 0 && uses.every((u) => u.node.opType === 'Conv' && u.index === 0);
};

/** @internal The training loop shared by finetune and distill. */
export async function trainLoop(s: LoopSetup): Promise<{ model: Model; report: TrainReport }> {
  const o = s.opts;
  const engine = o.engine ?? TRAIN_DEFAULTS.engine;
  let engineReason = "requested (engine: 'wasm')";
  if (engine !== 'wasm') {
    const why = ortUnsupported(s.model, ortTrainables(s.model, o).trainable);
    if (why === undefined) {
      const reason =
        engine === 'ort' ? "requested (engine: 'ort')" : 'auto: every op on a path to a trained weight has an onnxruntime gradient rule';
      try {
        return await trainLoopOrt({ ...s, engineReason: reason });
      } catch (e) {
        // onnxruntime refused the generated graph (sessions open before any step): 'auto' trains on wasm instead.
        if (engine === 'ort' || !(McError.is(e) && e.code === 'E_UNSUPPORTED' && /generated training graph/.test(e.message))) throw e;
        engineReason = `auto: ${e.message}`;
      }
    } else {
      if (engine === 'ort')
        throw new McError('E_UNSUPPORTED', `engine 'ort' cannot train this model: ${why}; use engine: 'wasm' (or 'auto')`);
      engineReason = `auto: ${why}`;
    }
  }
  const started = performance.now();
  const backend = await initTraining('wasm');
  const freeze = o.freeze;
  const frozen = typeof freeze === 'function' ? freeze : (n: string) => (freeze ?? []).includes(n);
  const g = new TrainableGraph(s.model, {
    trainable: (n) => !frozen(n),
    batchNorm: o.batchNorm ?? 'batch',
    ...(o.bnMomentum !== undefined && { bnMomentum: o.bnMomentum }),
  });
  const teacher = s.teacher?.();
  const masks = new Map<string, tf.Tensor>();
  let opt: Optimizer | undefined;
  try {
    const [input] = g.inputs;
    if (input === undefined || g.inputs.length !== 1) {
      throw new McError('E_UNSUPPORTED', `model has ${g.inputs.length} inputs; mc trains single-input classifiers`);
    }
    const layout0: BatchLayout = layoutForInput(s.data, input.shape, input.name);
    const layout: BatchLayout = layout0 === 'NCHW' && onlyConvUses(g) ? 'NHWC' : layout0;
    const inputLayout = layout === 'NHWC' && layout0 === 'NCHW' ? 'NHWC' : 'NCHW';
    const plan = planRun(s.technique, s.data, o, layout);
    const { k, unlabeled } = plan;
    if (teacher !== undefined && teacher.numClasses !== k) {
      throw new McError(
        'E_FORMAT',
        `teacher scores ${teacher.numClasses} classes, dataset '${s.data.name}' has ${k}; distil between models of the same task`,
      );
    }
    // Masks: fixed zeros stay zero (pruned models).
    const weights = new Map(
      [...g.params].map(([name, v]) => [
        name,
        {
          rank: v.rank,
          get data() {
            return v.dataSync();
          },
        },
      ]),
    );
    for (const [name, m] of maskArrays(o.masks, weights)) masks.set(name, tf.tensor(m, g.params.get(name)!.shape));
    if (typeof o.masks === 'object')
      for (const [name, m] of masks) tf.tidy(() => g.params.get(name)!.assign(tf.mul(g.params.get(name)!, m)));
    opt = new Optimizer(plan.optimizer, o.weightDecay ?? 0, masks);
    const bnScales = g.bnScales.filter((n) => g.params.has(n));
    const vars = [...g.params.values()];
    if (vars.length === 0) throw new McError('E_OPTION', 'the model has no trainable float32 initializers (all frozen?); nothing to train');

    const toX = (b: Batch) => tf.tensor(b.x, [...b.dims], 'float32');
    /** Labels for the hard loss: the data's, or the teacher's arg-max (label-free). */
    const hardLabels = (b: Batch, tz: tf.Tensor | undefined): tf.Tensor1D =>
      unlabeled ? (tf.argMax(tz!, -1) as tf.Tensor1D) : tf.tensor1d(b.labels, 'int32');
    const objective = (b: Batch, x: tf.Tensor, tz: tf.Tensor | undefined, training: boolean, stepSeed: number) => {
      const z = g.forward([x], { training, seed: stepSeed, inputLayout, logits: true });
      if (z.rank !== 2 || z.shape[1] !== k) {
        throw new McError(
          'E_FORMAT',
          `model output '${g.logits.name}' has shape [${z.shape.join(', ')}]; expected [batch, ${k}] class scores for dataset '${s.data.name}'`,
        );
      }
      if (tz !== undefined && (tz.rank !== 2 || tz.shape[1] !== k)) {
        throw new McError(
          'E_FORMAT',
          `teacher scores [${tz.shape.join(', ')}], student and dataset '${s.data.name}' ${k} classes; distil between models of the same task`,
        );
      }
      const y = hardLabels(b, tz);
      let loss = tz === undefined ? crossEntropy(z, y, k) : distillLoss(z, tz, y, k, plan.temperature, plan.alpha);
      if (plan.bnL1 > 0 && training) for (const n of bnScales) loss = tf.add(loss, tf.mul(tf.sum(tf.abs(g.params.get(n)!)), plan.bnL1));
      return { loss, z, y };
    };

    // Without augmentation the teacher's logits for a sample never change: compute each once, reuse every epoch.
    const cache =
      teacher !== undefined && o.augment === undefined
        ? { z: new Float32Array(plan.train.size * k), done: new Uint8Array(plan.train.size) }
        : undefined;
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

    const r = await runEpochs(plan, o, {
      step: async (b, lr, stepSeed) =>
        tf.tidy(() => {
          const x = toX(b);
          const tz = teacherLogits(b, x); // outside the tape: no gradient flows into the teacher
          const { value, grads } = tf.variableGrads(() => objective(b, x, tz, true, stepSeed).loss, vars);
          const l = value.dataSync()[0]!;
          if (Number.isFinite(l)) opt!.apply(g.params, grads, lr);
          return l;
        }),
      validate: async () => {
        if (plan.val === undefined) return undefined;
        let lossSum = 0;
        let correct = 0;
        let n = 0;
        for await (const b of plan.val.batches({ ...plan.batch, batchSize: 256, shuffle: false })) {
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
      },
      snapshot: () => g.weights(),
      restore: (w) => g.assign(w),
      model: () => g.writeBack(),
    });
    const model = g.writeBack();
    const report: TrainReport = {
      ...reportOf(s.technique, plan, r, started),
      backend,
      engine: 'wasm',
      engineReason,
      trained: [...g.params.keys()],
      masked: [...masks.keys()],
    };
    return { model, report };
  } finally {
    opt?.dispose();
    for (const m of masks.values()) m.dispose();
    teacher?.dispose();
    g.dispose();
  }
}
