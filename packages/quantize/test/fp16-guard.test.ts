import { describe, expect, it } from 'vitest';
import { type Model, ModelBuilder, Tensor, float16ToFloat32, float32ToFloat16 } from '@mc/ir';
import { countOps, errorOf } from '@mc/ir/testing';
import { quantize } from '@mc/quantize';
import { compareOutputs, runModel } from '@mc/verify';

const f32 = (dims: number[], f: (i: number) => number) =>
  new Tensor(
    'float32',
    dims,
    Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => f(i)),
  );
const input = (seed: number) => ({ x: f32([1, 4, 6, 6], (i) => Math.sin(i * 0.37 + seed) * 2) });

/**
 * PP-OCRv4 det's head in small: Paddle2ONNX puts every weight in a Constant node, and the BatchNormalization after
 * a Conv has running variances of 1e7..1e8 (its input is in the thousands). Clamping them to 65504 scaled the output.
 */
function paddleHead(): Model {
  const b = new ModelBuilder({ opset: 11, irVersion: 7 });
  const x = b.input('x', 'float32', [1, 4, 6, 6]);
  const c = (name: string, t: Tensor) => b.node('Constant', [], { value: t }, { name });
  const w = c(
    'w',
    f32([4, 4, 3, 3], (i) => Math.cos(i) * 300),
  );
  let y = b.node('Conv', [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, { name: 'conv' });
  y = b.node(
    'BatchNormalization',
    [
      y,
      c(
        'gamma',
        f32([4], (i) => 1 + i / 10),
      ),
      c(
        'beta',
        f32([4], (i) => i / 5 - 0.3),
      ),
      c(
        'mean',
        f32([4], (i) => 100 * i - 150),
      ),
      c(
        'var',
        f32([4], (i) => 1.05e7 * (i + 1)),
      ),
    ],
    { epsilon: 1e-5 },
    { name: 'bn' },
  );
  y = b.node('Relu', [y], {}, { name: 'relu' });
  y = b.node(
    'Resize',
    [
      y,
      c(
        'roi',
        f32([0], () => 0),
      ),
      c(
        'scales',
        f32([4], (i) => (i < 2 ? 1 : 2)),
      ),
    ],
    { mode: 'nearest' },
    { name: 'up' },
  );
  y = b.node(
    'Sigmoid',
    [
      b.node(
        'Mul',
        [
          y,
          c(
            'k',
            f32([1], () => 3),
          ),
        ],
        {},
        { name: 'mul' },
      ),
    ],
    {},
    { name: 'sig' },
  );
  b.output(y, 'p');
  return b.build();
}

/**
 * x → ×1000 → ×1000 (output `w`, |x| up to 2e6: float16 cannot hold it) → ×1e-6 → Relu (output `y`), made of
 * harmless constants. `w` is a graph output so that onnxruntime's CPU provider, which runs float16 Mul in float32 and
 * drops the Casts between such nodes, has to store it in float16.
 */
function wideActivation(): Model {
  const b = new ModelBuilder({ opset: 17, irVersion: 8 });
  const x = b.input('x', 'float32', [1, 4, 6, 6]);
  let y = b.node(
    'Mul',
    [
      x,
      b.initializer(
        'k1',
        f32([1], () => 1000),
      ),
    ],
    {},
    { name: 'up1' },
  );
  y = b.node(
    'Mul',
    [
      y,
      b.initializer(
        'k2',
        f32([1], () => 1000),
      ),
    ],
    {},
    { name: 'up2' },
  );
  b.output(y, 'w');
  y = b.node(
    'Mul',
    [
      y,
      b.initializer(
        'k3',
        f32([1], () => 1e-6),
      ),
    ],
    {},
    { name: 'down' },
  );
  b.output(b.node('Relu', [y], {}, { name: 'relu' }), 'y');
  return b.build();
}

describe('fp16 overflow guard', () => {
  it('Constant-held BatchNormalization variance 1e7 (PP-OCRv4 det head): BN stays float32, max |Δ| ≤ 1e-3 after the sigmoid', async () => {
    const m = paddleHead();
    const { model, report } = await quantize(m, { mode: 'fp16' });
    expect(report.passedThrough.find((p) => p.node === 'bn')?.reason).toMatch(
      /weight 'var_out\d*': 4 of its 4 values exceed the float16 range/,
    );
    // quantize normalises the Constant nodes into initializers first. The BN statistics and the Resize roi/scales stay
    // float32; the Conv weight and the Mul factor get float16 copies.
    const inits = [...model.graph.initializers.values()].map((v) => v.constValue!);
    expect(model.graph.nodes.filter((n) => n.opType === 'Constant')).toHaveLength(0);
    expect(inits.filter((t) => t.dtype === 'float32').length, inits.map((t) => t.dtype).join()).toBe(6);
    expect(inits.filter((t) => t.dtype === 'float16').length).toBe(2);
    expect(report.warnings.some((w) => w.code === 'W_CLAMP')).toBe(false);
    for (const seed of [1, 2, 3]) {
      const c = compareOutputs(await runModel(m, input(seed)), await runModel(model, input(seed))).p!;
      expect(c.maxAbs).toBeLessThan(1e-3);
    }
  });

  it('a weight whose values underflow in float16 (|w| ≈ 1e-6) keeps its node in float32', async () => {
    const b = new ModelBuilder({ opset: 17, irVersion: 8 });
    const x = b.input('x', 'float32', [1, 4, 6, 6]);
    const tiny = b.initializer(
      'tiny',
      f32([4, 4, 1, 1], (i) => 1e-6 * (1 + i / 7)),
    );
    b.output(b.node('Conv', [x, tiny], { kernel_shape: [1, 1] }, { name: 'conv' }), 'y');
    const m = b.build();
    const { model, report } = await quantize(m, { mode: 'fp16' });
    expect(report.passedThrough.find((p) => p.node === 'conv')?.reason).toMatch(/weight 'tiny': its small values underflow in float16/);
    expect(compareOutputs(await runModel(m, input(1)), await runModel(model, input(1))).y!.cosine).toBeGreaterThan(0.999999);
  });

  it('calibration: nodes that compute or read an activation beyond ±65504 stay float32; without it the output is lost', async () => {
    const m = wideActivation();
    const ref = await runModel(m, input(1));
    // float16 graph outputs: the value reaches the caller as float16 (Inf), whatever onnxruntime does with Casts.
    const plain = await quantize(m, { mode: 'fp16', keepIoTypes: false });
    const x16 = { x: new Tensor('float16', [1, 4, 6, 6], float32ToFloat16(input(1).x.data as Float32Array)) };
    const lost = float16ToFloat32((await runModel(plain.model, x16)).w!.data as Uint16Array);
    expect(lost.some((v) => !Number.isFinite(v))).toBe(true);
    const { model, report } = await quantize(m, { mode: 'fp16', calibration: [input(2), input(3)] });
    const kept = report.passedThrough.map((p) => p.node).sort();
    expect(kept).toEqual(['down', 'up2']);
    expect(report.passedThrough[0]!.reason).toMatch(/activation 'w' reaches \|x\| = 2\.\d+e\+6 on the calibration data/);
    const c = compareOutputs(ref, await runModel(model, input(1)));
    expect(c.y!.maxAbs).toBeLessThan(5e-3);
    expect(c.w!.maxAbs / 2e6).toBeLessThan(1e-3);
    expect(countOps(model).Cast).toBe(4); // x → float16, up1 → float32 for up2, down → float16 for relu, relu → float32
  });

  it('maxOutputError: the converted outputs stay within it on the calibration batches', async () => {
    const m = paddleHead();
    const cal = [input(4), input(5)];
    const plain = await quantize(m, { mode: 'fp16' });
    const { model, report } = await quantize(m, { mode: 'fp16', calibration: cal, maxOutputError: 1e-7 });
    for (const f of cal) expect(compareOutputs(await runModel(m, f), await runModel(model, f)).p!.maxAbs).toBeLessThanOrEqual(1e-7);
    expect(report.warnings.some((w) => /stay float32/.test(w.message))).toBe(true);
    expect(report.passedThrough.length).toBeGreaterThan(plain.report.passedThrough.length);
  });

  it('maxOutputError without calibration, or not > 0 → E_OPTION', async () => {
    expect(await errorOf(quantize(paddleHead(), { mode: 'fp16', maxOutputError: 0.01 }))).toMatch(
      /^E_OPTION: quantize fp16: maxOutputError needs calibration/,
    );
    expect(await errorOf(quantize(paddleHead(), { mode: 'fp16', calibration: [input(1)], maxOutputError: 0 }))).toMatch(
      /^E_OPTION: .*must be a number > 0/,
    );
  });
});
