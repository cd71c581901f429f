import { type AttrSpecs, defineOp, float, type OpInfo, str } from './define.js';

const names = [
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Elu',
  'Selu',
  'Celu',
  'Gelu',
  'HardSigmoid',
  'HardSwish',
  'Softplus',
  'Softsign',
  'ThresholdedRelu',
  'Mish',
  'Clip',
  'Dropout',
];

/** Spec defaults of activation attributes (https://onnx.ai/onnx/operators/, one page per op). */
const activationAttrs: Record<string, AttrSpecs> = {
  LeakyRelu: { alpha: float(0.01) },
  Elu: { alpha: float(1) },
  // Selu's constants are the float32 values the spec writes as 1.67326319217681884765625 and 1.05070102214813232421875.
  // biome-ignore lint/correctness/noPrecisionLoss: the spec's defaults, written as their exact float32 values
  Selu: { alpha: float(1.67326319217681884765625), gamma: float(1.05070102214813232421875) },
  Celu: { alpha: float(1) },
  // Gelu (opset 20): 'none' (exact, with erf) or 'tanh' (https://onnx.ai/onnx/operators/onnx__Gelu.html).
  Gelu: { approximate: str('none') },
  HardSigmoid: { alpha: float(0.2), beta: float(0.5) },
  ThresholdedRelu: { alpha: float(1) },
  // Before opset 11 Clip's bounds are attributes, unbounded by default (the float32 lowest and highest values).
  Clip: { min: float(-3.4028234663852886e38), max: float(3.4028234663852886e38) },
  // Before opset 12 Dropout's ratio is an attribute.
  Dropout: { ratio: float(0.5) },
};

/** Activations: same shape in and out, no channel-coupling parameters. */
export const activationOps: OpInfo[] = [
  ...names.map((opType) =>
    defineOp({
      opType,
      inputs: opType === 'Clip' ? ['input', 'min?', 'max?'] : opType === 'Dropout' ? ['data', 'ratio?', 'training_mode?'] : ['X'],
      attrs: activationAttrs[opType] ?? {},
      channels: 'passthrough',
      inferShape: (c) => (opType === 'Dropout' ? [c.shapes[0], c.shapes[0]] : [c.shapes[0]]),
      ...(opType === 'Dropout' && { inferDType: (c) => [c.dtypes[0], 'bool'] }),
    }),
  ),
  defineOp({
    opType: 'PRelu',
    inputs: ['X', 'slope'],
    params: { channel: ['slope'] },
    channels: 'channelwise',
    inferShape: (c) => [c.shapes[0]],
  }),
  // axis is -1 from opset 13; before, the input was flattened to 2-D at axis 1 (https://onnx.ai/onnx/operators/onnx__Softmax.html).
  ...['Softmax', 'LogSoftmax', 'Hardmax'].map((opType) =>
    defineOp({
      opType,
      inputs: ['input'],
      attrs: { axis: { kind: 'INT', default: -1, before: { opset: 13, default: 1 } } },
      inferShape: (c) => [c.shapes[0]],
    }),
  ),
];
