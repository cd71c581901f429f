import { defineOp, type OpInfo } from './define.js';

/** Normalizations. BatchNormalization's per-channel params sit on axis 1 of X. */
export const normOps: OpInfo[] = [
  defineOp({
    opType: 'BatchNormalization',
    inputs: ['X', 'scale', 'B', 'input_mean', 'input_var'],
    params: { channel: ['scale', 'B', 'input_mean', 'input_var'] },
    channels: 'channelwise',
    inferShape: (c) => [c.shapes[0]],
  }),
  defineOp({
    opType: 'InstanceNormalization',
    inputs: ['input', 'scale', 'B'],
    params: { channel: ['scale', 'B'] },
    channels: 'channelwise',
    inferShape: (c) => [c.shapes[0]],
  }),
  defineOp({ opType: 'LayerNormalization', inputs: ['X', 'Scale', 'B?'], inferShape: (c) => [c.shapes[0]] }),
  defineOp({ opType: 'LRN', inputs: ['X'], inferShape: (c) => [c.shapes[0]] }),
];
