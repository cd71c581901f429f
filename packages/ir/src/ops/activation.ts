import { defineOp, type OpInfo } from './define.js';

const names = [
  'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Elu', 'Selu', 'Celu', 'Gelu', 'HardSigmoid', 'HardSwish', 'Softplus',
  'Softsign', 'ThresholdedRelu', 'Mish', 'Clip', 'Dropout',
];

/** Activations: same shape in and out, no channel-coupling parameters. */
export const activationOps: OpInfo[] = [
  ...names.map((opType) =>
    defineOp({
      opType,
      inputs: opType === 'Clip' ? ['input', 'min?', 'max?'] : opType === 'Dropout' ? ['data', 'ratio?', 'training_mode?'] : ['X'],
      channels: 'passthrough',
      inferShape: (c) => (opType === 'Dropout' ? [c.shapes[0], c.shapes[0]] : [c.shapes[0]]),
      ...(opType === 'Dropout' && { inferDType: (c) => [c.dtypes[0], 'bool'] }),
    }),
  ),
  defineOp({ opType: 'PRelu', inputs: ['X', 'slope'], params: { channel: ['slope'] }, channels: 'channelwise', inferShape: (c) => [c.shapes[0]] }),
  ...['Softmax', 'LogSoftmax', 'Hardmax'].map((opType) => defineOp({ opType, inputs: ['input'], inferShape: (c) => [c.shapes[0]] })),
];
