import { dtypeFromOnnx } from '../dtype.js';
import { defineOp, float, int, type OpInfo } from './define.js';

/** Normalizations. BatchNormalization's per-channel params sit on axis 1 of X. */
export const normOps: OpInfo[] = [
  defineOp({
    opType: 'BatchNormalization',
    inputs: ['X', 'scale', 'B', 'input_mean', 'input_var'],
    // https://onnx.ai/onnx/operators/onnx__BatchNormalization.html
    attrs: { epsilon: float(1e-5), momentum: float(0.9), training_mode: int(0) },
    params: { channel: ['scale', 'B', 'input_mean', 'input_var'] },
    channels: 'channelwise',
    inferShape: (c) => [c.shapes[0]],
  }),
  defineOp({
    opType: 'InstanceNormalization',
    inputs: ['input', 'scale', 'B'],
    attrs: { epsilon: float(1e-5) },
    params: { channel: ['scale', 'B'] },
    channels: 'channelwise',
    inferShape: (c) => [c.shapes[0]],
  }),
  defineOp({
    opType: 'LayerNormalization',
    inputs: ['X', 'Scale', 'B?'],
    attrs: { axis: int(-1), epsilon: float(1e-5), stash_type: int(1) },
    // Mean and InvStdDev keep the leading axes and have 1 on the normalised ones
    // (https://onnx.ai/onnx/operators/onnx__LayerNormalization.html).
    inferShape: (c) => {
      const x = c.shapes[0];
      if (x === undefined) return [undefined, undefined, undefined];
      const a = c.node.attrInt('axis', -1);
      const axis = a < 0 ? a + x.length : a;
      const stat = x.map((d, i) => (i < axis ? d : 1));
      return [x, stat, stat];
    },
    inferDType: (c) => {
      const stash = dtypeFromOnnx(c.node.attrInt('stash_type', 1));
      return [c.dtypes[0], stash, stash];
    },
  }),
  defineOp({ opType: 'LRN', inputs: ['X'], inferShape: (c) => [c.shapes[0]] }),
];
