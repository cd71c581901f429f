import { describe, expect, it } from 'vitest';
import {
  attr,
  attrOf,
  McError,
  Node,
  registeredOps,
  reshapeDims,
  reshapeTarget,
  resolvePads,
  samePads,
  slotIndex,
  slotOf,
  transposePerm,
  Value,
} from '../index.js';

const node = (
  opType: string,
  inputs: (Value | undefined)[],
  attributes: Record<string, ReturnType<typeof attr.int>> = {},
  domain = '',
): Node => new Node({ opType, domain, inputs, outputs: 1, attributes });

const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return McError.is(e) ? e.code : 'not an McError';
  }
  return undefined;
};

describe('slotOf', () => {
  const [x, w, b, c] = ['x', 'w', 'b', 'c'].map((n) => new Value(n)) as [Value, Value, Value, Value];

  it('reads inputs by spec name and by the weight/bias role', () => {
    const conv = node('Conv', [x, w, b]);
    expect(slotOf(conv, 'X')).toBe(x);
    expect(slotOf(conv, 'W')).toBe(w);
    expect(slotOf(conv, 'weight')).toBe(w);
    expect(slotOf(conv, 'B')).toBe(b);
    expect(slotOf(conv, 'bias')).toBe(b);
    expect(slotIndex(conv, 'bias')).toBe(2);
    const gemm = node('Gemm', [x, w, c]);
    expect(slotOf(gemm, 'bias')).toBe(c);
    expect(slotIndex(gemm, 'C')).toBe(2);
    // 'input' is the data operand: the spec name in Identity, a role elsewhere.
    expect(slotOf(node('Identity', [x]), 'input')).toBe(x);
    expect(slotOf(node('Transpose', [w]), 'input')).toBe(w);
    expect(slotIndex(node('Split', [x, w]), 'input')).toBe(0);
    // MatMulNBits names its own slot 'bias' (index 5): the spec name wins.
    expect(slotIndex(node('MatMulNBits', [x, w, b], {}, 'com.microsoft'), 'bias')).toBe(5);
  });

  it('is undefined for an absent or empty optional input', () => {
    expect(slotOf(node('Conv', [x, w]), 'B')).toBeUndefined();
    expect(slotOf(node('DequantizeLinear', [x, w, undefined]), 'x_zero_point')).toBeUndefined();
    expect(slotOf(node('Conv', [x, w, new Value('')]), 'bias')).toBeUndefined();
    expect(slotOf(node('QLinearConv', [x, w, b, c, x, w, b, c]), 'w')).toBe(c);
  });

  it('throws E_INVARIANT for a slot the op does not declare, and for an unregistered op', () => {
    expect(code(() => slotOf(node('Relu', [x]), 'B'))).toBe('E_INVARIANT');
    expect(code(() => slotOf(node('Relu', [x]), 'bias'))).toBe('E_INVARIANT');
    expect(code(() => slotOf(node('LSTM', [x]), 'X'))).toBe('E_INVARIANT');
    expect(code(() => slotOf(node('Constant', []), 'input'))).toBe('E_INVARIANT');
  });
});

describe('attrOf', () => {
  const x = new Value('x');

  it('returns the node value, else the spec default', () => {
    expect(attrOf(node('Conv', [x]), 'group')).toBe(1);
    expect(attrOf(node('Conv', [x], { group: attr.int(4) }), 'group')).toBe(4);
    expect(attrOf(node('Conv', [x]), 'auto_pad')).toBe('NOTSET');
    expect(attrOf(node('Conv', [x], { auto_pad: attr.string('SAME_LOWER') }), 'auto_pad')).toBe('SAME_LOWER');
    expect(attrOf(node('Gemm', [x]), 'alpha')).toBe(1);
    expect(attrOf(node('Gemm', [x]), 'transB')).toBe(0);
    expect(attrOf(node('Gemm', [x], { transB: attr.int(1), beta: attr.float(0.5) }), 'transB')).toBe(1);
    expect(attrOf(node('Gemm', [x], { beta: attr.float(0.5) }), 'beta')).toBe(0.5);
    expect(attrOf(node('LeakyRelu', [x]), 'alpha')).toBeCloseTo(0.01, 9);
    expect(attrOf(node('HardSigmoid', [x]), 'beta')).toBe(0.5);
    expect(attrOf(node('BatchNormalization', [x]), 'epsilon')).toBeCloseTo(1e-5, 12);
    expect(attrOf(node('BatchNormalization', [x]), 'momentum')).toBeCloseTo(0.9, 9);
    expect(attrOf(node('LayerNormalization', [x]), 'axis')).toBe(-1);
    expect(attrOf(node('Flatten', [x]), 'axis')).toBe(1);
    expect(attrOf(node('Gather', [x]), 'axis')).toBe(0);
    expect(attrOf(node('DequantizeLinear', [x]), 'axis')).toBe(1);
    expect(attrOf(node('Reshape', [x]), 'allowzero')).toBe(0);
    expect(attrOf(node('Resize', [x]), 'mode')).toBe('nearest');
    expect(attrOf(node('Pad', [x]), 'mode')).toBe('constant');
    expect(attrOf(node('MatMulNBits', [x], {}, 'com.microsoft'), 'bits')).toBe(4);
    expect(attrOf(node('Clip', [x]), 'max')).toBe(3.4028234663852886e38);
    expect(attrOf(node('Dropout', [x]), 'ratio')).toBe(0.5);
  });

  it('follows a default that changed with the opset (Softmax axis 1 before opset 13, -1 after)', () => {
    expect(attrOf(node('Softmax', [x]), 'axis', 11)).toBe(1);
    expect(attrOf(node('Softmax', [x]), 'axis', 13)).toBe(-1);
    expect(attrOf(node('LogSoftmax', [x]), 'axis')).toBe(-1);
    expect(attrOf(node('Softmax', [x], { axis: attr.int(2) }), 'axis', 11)).toBe(2);
  });

  it('is undefined where the spec has no default, and reads lists', () => {
    expect(attrOf(node('Conv', [x]), 'kernel_shape')).toBeUndefined();
    expect(attrOf(node('ConvTranspose', [x]), 'output_shape')).toBeUndefined();
    expect(attrOf(node('Conv', [x], { kernel_shape: attr.ints([3, 3]) }), 'kernel_shape')).toEqual([3, 3]);
  });

  it("declarations agree: a default has its kind's type, one attribute name has one kind across ops", () => {
    const kinds = new Map<string, string>();
    for (const info of registeredOps()) {
      for (const [name, spec] of Object.entries(info.attrs)) {
        const where = `${info.opType}.${name}`;
        expect(kinds.get(name) ?? spec!.kind, where).toBe(spec!.kind);
        kinds.set(name, spec!.kind);
        const d = spec!.default;
        if (d === undefined) continue;
        expect(typeof d, where).toBe(
          spec!.kind === 'STRING' ? 'string' : spec!.kind === 'INT' || spec!.kind === 'FLOAT' ? 'number' : 'object',
        );
        if (spec!.kind === 'INT') expect(Number.isInteger(d), where).toBe(true);
      }
    }
    expect(kinds.size).toBeGreaterThan(30);
  });

  it('throws E_FORMAT for a missing required attribute or a wrong type, E_INVARIANT for an undeclared one', () => {
    expect(code(() => attrOf(node('Concat', [x]), 'axis'))).toBe('E_FORMAT');
    expect(attrOf(node('Concat', [x], { axis: attr.int(1) }), 'axis')).toBe(1);
    expect(code(() => attrOf(node('Conv', [x], { group: attr.float(2) }), 'group'))).toBe('E_FORMAT');
    expect(code(() => attrOf(node('Relu', [x]), 'alpha'))).toBe('E_INVARIANT');
    expect(code(() => attrOf(node('Conv', [x]), 'transB'))).toBe('E_INVARIANT');
  });
});

describe('Transpose permutation', () => {
  it('reverses the axes by default', () => {
    const x = new Value('x');
    expect(transposePerm(node('Transpose', [x]), 3)).toEqual([2, 1, 0]);
    expect(transposePerm(node('Transpose', [x], { perm: attr.ints([0, 2, 1]) }), 3)).toEqual([0, 2, 1]);
  });
});

describe('Reshape target resolution', () => {
  it('copies 0, infers -1, keeps symbols', () => {
    expect(reshapeTarget([2, 3, 4], [0, -1], false)).toEqual([2, 12]);
    expect(reshapeTarget([2, 3, 4], [-1, 4], false)).toEqual([6, 4]);
    expect(reshapeTarget(['batch', 3, 4], [0, -1], false)).toEqual(['batch', 12]);
    expect(reshapeTarget(undefined, [0, -1], false)).toEqual([null, null]);
  });

  it('allowzero keeps a 0 as a real size', () => {
    expect(reshapeTarget([2, 3, 4], [0, 24], true)).toEqual([0, 24]);
    expect(reshapeTarget([2, 3, 4], [0, -1], true)).toEqual([0, null]);
  });

  it('reshapeDims resolves known sizes and refuses a mismatch', () => {
    expect(reshapeDims([16, 4, 4, 10], [256, -1])).toEqual([256, 10]);
    expect(reshapeDims([16, 4, 4, 10], [0, 0, -1])).toEqual([16, 4, 40]);
    expect(reshapeDims([6], [4, -1])).toBeUndefined();
    expect(reshapeDims([6], [4, 2])).toBeUndefined();
    expect(reshapeDims([2, 3], [0, -1], true)).toBeUndefined();
  });
});

describe('SAME padding resolution', () => {
  it('puts the odd pad at the end for SAME_UPPER and at the beginning for SAME_LOWER', () => {
    expect(samePads(5, 2, 1, 1)).toEqual({ begin: 0, end: 1, out: 5 });
    expect(samePads(5, 2, 1, 1, 'SAME_LOWER')).toEqual({ begin: 1, end: 0, out: 5 });
    expect(samePads(32, 3, 2, 1)).toEqual({ begin: 0, end: 1, out: 16 });
    expect(samePads(32, 3, 1, 2)).toEqual({ begin: 2, end: 2, out: 32 });
    expect(samePads(7, 1, 3, 1)).toEqual({ begin: 0, end: 0, out: 3 });
  });

  it('resolvePads reads auto_pad, pads and the stride/dilation defaults', () => {
    const x = new Value('x');
    const same = node('Conv', [x], { auto_pad: attr.string('SAME_LOWER'), strides: attr.ints([2, 1]) });
    expect(resolvePads(same, [32, 5], [3, 2])).toEqual({ pads: [1, 1, 0, 0], strides: [2, 1], dilations: [1, 1], autoPad: 'SAME_LOWER' });
    const valid = node('Conv', [x], { auto_pad: attr.string('VALID'), pads: attr.ints([1, 1, 1, 1]) });
    expect(resolvePads(valid, [8, 8], [3, 3]).pads).toEqual([0, 0, 0, 0]);
    const explicit = node('MaxPool', [x], { pads: attr.ints([0, 1, 2, 3]) });
    expect(resolvePads(explicit, [8, 8], [3, 3]).pads).toEqual([0, 1, 2, 3]);
    expect(resolvePads(node('Conv', [x], { auto_pad: attr.string('SAME_UPPER') }), [5, 5], [2, 2], [2, 2]).pads).toEqual([1, 1, 1, 1]);
  });
});
