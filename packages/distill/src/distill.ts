import * as tf from '@tensorflow/tfjs-core';
import { layoutForInput, type BatchLayout, type Dataset } from '@mc/datasets';
import { McError, type Model } from '@mc/ir';
import type { TrainResult } from './finetune.js';
import { TrainableGraph } from './graph/compile.js';
import { validateOptions, type DistillOptions } from './options.js';
import { trainLoop } from './train.js';

/**
 * Knowledge distillation (Hinton, Vinyals & Dean 2015): trains `student` to match `teacher`'s softened outputs
 * σ(z/T), mixed with hard labels by α; with `unlabeled: true` labels are never read and the teacher labels the data.
 * The teacher runs forward-only in the same tfjs graph runtime (its logits are the input of a final Softmax, if any).
 *
 * @example
 * ```ts
 * const { model } = await distill(teacher, student, await loadMnist(dir), { temperature: 4, alpha: 0.9, epochs: 3 });
 * ```
 */
export async function distill(teacher: Model, student: Model, data: Dataset, opts: DistillOptions = {}): Promise<TrainResult> {
  validateOptions(opts);
  return trainLoop({
    technique: 'distill',
    model: student,
    data,
    opts,
    teacherModel: teacher,
    teacher: () => {
      const g = new TrainableGraph(teacher, { trainable: false });
      const [tin] = g.inputs;
      if (g.inputs.length !== 1 || tin === undefined)
        throw new McError('E_UNSUPPORTED', `teacher has ${g.inputs.length} inputs; mc distils single-input classifiers`);
      layoutForInput(data, tin.shape, tin.name); // the teacher must accept this data too (throws E_FORMAT)
      const last = g.logits.shape?.at(-1);
      const numClasses = typeof last === 'number' ? last : data.numClasses;
      const studentLast = student.graph.outputs[0]?.shape?.at(-1);
      if (typeof studentLast === 'number' && studentLast !== numClasses) {
        throw new McError(
          'E_FORMAT',
          `teacher scores ${numClasses} classes, student ${studentLast}; distil between models of the same task`,
        );
      }
      return {
        numClasses,
        fn: (x: tf.Tensor, layout: BatchLayout) => {
          // Bring the student's batch to NCHW samples, then to the teacher's own input layout.
          const n = x.shape[0]!;
          const base =
            layout === 'NHWC'
              ? tf.transpose(x, [0, 3, 1, 2])
              : layout === 'flat' || layout === 'NHW'
                ? tf.reshape(x, [n, ...data.inputShape])
                : x;
          const tl = layoutForInput(data, tin.shape, tin.name);
          const xin =
            tl === 'flat'
              ? tf.reshape(base, [n, -1])
              : tl === 'NHW'
                ? tf.reshape(base, [n, ...data.inputShape.slice(1)])
                : tl === 'NHWC'
                  ? tf.transpose(base, [0, 2, 3, 1])
                  : base;
          return g.forward([xin], { training: false, logits: true });
        },
        dispose: () => g.dispose(),
      };
    },
  });
}
