import { UsageError } from '../exit-codes.js';
import { defined, defineCommand, type OptionFlags } from '../flags.js';
import { loadModel } from '../formats.js';
import { DISTILL_DEFAULTS } from '@mc/distill';
import { distillModels, runTraining, TRAIN_FLAGS, type DistillOptions } from './finetune.js';
import { assertFiniteWeights } from '@mc/verify';
import { VERIFY_FLAGS } from '../verify-gate.js';
import { SUMMARY } from './summaries.js';

const flags = {
  teacher: { type: 'string', arg: 'T.onnx', description: 'the teacher model (any format mc reads)' },
  student: { type: 'string', arg: 'S.onnx', description: 'the student model to train' },
  temperature: { type: 'number', arg: 'T', description: 'softmax temperature of the soft targets', default: DISTILL_DEFAULTS.temperature },
  alpha: {
    type: 'number',
    arg: 'a',
    description: 'weight of the soft (teacher) loss; 1 - a goes to the hard labels',
    default: DISTILL_DEFAULTS.alpha,
  },
  unlabeled: { type: 'boolean', description: 'never read labels: the teacher labels the data (its arg-max is the hard label)' },
  ...TRAIN_FLAGS,
  ...VERIFY_FLAGS,
} as const satisfies OptionFlags<DistillOptions>;

/** `mc distill --teacher T --student S <out>`: Hinton knowledge distillation, optionally label-free. */
export const distill = defineCommand({
  name: 'distill',
  summary: SUMMARY.distill,
  usage: '--teacher T.onnx --student S.onnx <out> --dataset mnist|cifar10|npy --data-dir DIR [--temperature T --alpha A] [--unlabeled]',
  flags,
  examples: [
    'mc distill --teacher big.onnx --student small.onnx out.onnx --dataset mnist --data-dir data/mnist --epochs 5 --eval',
    'mc distill --teacher big.onnx --student small.onnx out.onnx --dataset mnist --data-dir data/mnist --unlabeled',
  ],
  async run({ flags: f, positionals, io }) {
    const [output] = needOut(positionals);
    if (typeof f.teacher !== 'string' || typeof f.student !== 'string')
      throw new UsageError('mc distill: pass --teacher <model> and --student <model>');
    const teacher = (await loadModel(f.teacher)).model;
    const student = (await loadModel(f.student)).model;
    assertFiniteWeights(teacher, f.teacher);
    assertFiniteWeights(student, f.student);
    const kd: DistillOptions = { temperature: f.temperature, alpha: f.alpha, ...defined({ unlabeled: f.unlabeled }) };
    await runTraining(f, io, { model: student, file: f.student, technique: 'distill' }, output!, (data, opts) =>
      distillModels(teacher, student, kd.unlabeled ? data.withoutLabels() : data, { ...opts, ...kd }),
    );
  },
});

function needOut(positionals: string[]): string[] {
  if (positionals.length !== 1)
    throw new UsageError(`mc distill: expected <out>, got ${positionals.length} argument(s); usage: mc distill ${distill.usage}`);
  return positionals;
}
