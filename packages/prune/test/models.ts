import { attr, type Model, ModelBuilder, Tensor, type Value } from '@mc/ir';
import { seededRandom } from '@mc/ir/testing';

/**
 * Random conv graphs whose "dead" channels (every 4th: index ≡ 0 mod 4 in every channel space) contribute exactly
 * nothing: dead filters and biases are zero and the BatchNormalization after them has γ = β = 0. Every channel space
 * has a multiple of 4 channels, so Concat and Split keep the pattern, and pruning a quarter of every group by L1 (or
 * BN |γ|) removes exactly the dead channels: outputs must not change.
 */
export class DeadChannelNet {
  readonly b = new ModelBuilder({ opset: 17 });
  readonly rand: () => number;
  #n = 0;

  constructor(seed: number) {
    this.rand = seededRandom(seed);
  }

  #name(p: string): string {
    return `${p}${this.#n++}`;
  }

  #tensor(dims: number[], f: (i: number) => number): Tensor {
    const n = dims.reduce((a, c) => a * c, 1);
    return new Tensor(
      'float32',
      dims,
      Float32Array.from({ length: n }, (_, i) => f(i)),
    );
  }

  /** Conv with dead output channels (≡ 0 mod 4) unless `live`. */
  conv(
    x: Value,
    cin: number,
    cout: number,
    o: { k?: number; group?: number; stride?: number; live?: boolean; bias?: boolean } = {},
  ): Value {
    const k = o.k ?? 3;
    const group = o.group ?? 1;
    const per = (cin / group) * k * k;
    const scale = 1 / Math.sqrt(per);
    const dead = (c: number): boolean => o.live !== true && c % 4 === 0;
    const w = this.#tensor([cout, cin / group, k, k], (i) => (dead(Math.floor(i / per)) ? 0 : (this.rand() * 2 - 1) * scale * 1.7));
    const inputs: Value[] = [x, this.b.initializer(this.#name('w'), w)];
    if (o.bias !== false)
      inputs.push(
        this.b.initializer(
          this.#name('b'),
          this.#tensor([cout], (c) => (dead(c) ? 0 : this.rand() * 0.2 - 0.1)),
        ),
      );
    const s = o.stride ?? 1;
    return this.b.node(
      'Conv',
      inputs,
      { kernel_shape: [k, k], pads: [k >> 1, k >> 1, k >> 1, k >> 1], strides: [s, s], group },
      { name: this.#name('conv') },
    );
  }

  bn(x: Value, c: number): Value {
    const dead = (i: number): boolean => i % 4 === 0;
    const g = this.#tensor([c], (i) => (dead(i) ? 0 : 0.5 + this.rand()));
    const beta = this.#tensor([c], (i) => (dead(i) ? 0 : this.rand() * 0.2 - 0.1));
    const mean = this.#tensor([c], () => this.rand() * 0.2 - 0.1);
    const vr = this.#tensor([c], () => 0.5 + this.rand());
    const ins = [g, beta, mean, vr].map((t, i) => this.b.initializer(this.#name(['gamma', 'beta', 'mean', 'var'][i]!), t));
    return this.b.node('BatchNormalization', [x, ...ins], { epsilon: attr.float(1e-5) }, { name: this.#name('bn') });
  }

  cbr(x: Value, cin: number, cout: number, stride = 1): Value {
    return this.b.node('Relu', [this.bn(this.conv(x, cin, cout, { stride }), cout)]);
  }

  /** A random stack of blocks; returns the model. */
  build(kind: 'gap' | 'flatten' | 'matmul' | 'nhwc'): Model {
    const x = this.b.input('x', 'float32', [1, 3, 8, 8]);
    let c = 8;
    let h = this.cbr(x, 3, c);
    const blocks = 3 + Math.floor(this.rand() * 3);
    for (let i = 0; i < blocks; i++) {
      const t = Math.floor(this.rand() * 5);
      if (t === 0) {
        // residual basic block
        const y = this.bn(this.conv(this.cbr(h, c, c), c, c), c);
        h = this.b.node('Relu', [this.b.node('Add', [y, h])]);
      } else if (t === 1) {
        // concat of two branches
        const a = 4 * (1 + Math.floor(this.rand() * 3));
        const bb = 4 * (1 + Math.floor(this.rand() * 3));
        h = this.b.node('Concat', [this.conv(h, c, a, { k: 1 }), this.cbr(h, c, bb)], { axis: 1 });
        c = a + bb;
      } else if (t === 2) {
        // depthwise separable (MobileNet): dw 3x3 + BN + Clip(0, 6) + pw 1x1 + BN
        const dw = this.b.node('Clip', [
          this.bn(this.conv(h, c, c, { group: c }), c),
          this.b.initializer(this.#name('lo'), new Tensor('float32', [], new Float32Array([0]))),
          this.b.initializer(this.#name('hi'), new Tensor('float32', [], new Float32Array([6]))),
        ]);
        const out = 4 * (2 + Math.floor(this.rand() * 3));
        h = this.bn(this.conv(dw, c, out, { k: 1 }), out);
        c = out;
      } else if (t === 3) {
        // split in two halves, a conv on each, concat back
        const half = c / 2;
        if (half % 4 !== 0) continue;
        const parts = this.b.nodeN(
          'Split',
          [h, this.b.initializer(this.#name('split'), new Tensor('int64', [2], BigInt64Array.from([BigInt(half), BigInt(half)])))],
          { axis: 1 },
          { outputs: 2 },
        );
        h = this.b.node('Concat', [this.cbr(parts[0]!, half, half), this.b.node('Relu', [parts[1]!])], { axis: 1 });
      } else {
        // channel-wise scale by a constant [1, C, 1, 1] (dead entries are anything: x·s = 0)
        h = this.b.node('Mul', [
          h,
          this.b.initializer(
            this.#name('scale'),
            this.#tensor([1, c, 1, 1], () => 0.5 + this.rand()),
          ),
        ]);
      }
    }
    const classes = 10;
    if (kind === 'gap' || kind === 'nhwc') {
      // 'nhwc': Keras-style head, GlobalAveragePool → Transpose to NHWC → Flatten ([N, 1, 1, C] → [N, C])
      const pooled = this.b.node('GlobalAveragePool', [h]);
      const f = this.b.node('Flatten', [kind === 'gap' ? pooled : this.b.node('Transpose', [pooled], { perm: [0, 2, 3, 1] })], { axis: 1 });
      const w = this.b.initializer(
        'fc_w',
        this.#tensor([classes, c], () => this.rand() - 0.5),
      );
      this.b.output(
        this.b.node(
          'Gemm',
          [
            f,
            w,
            this.b.initializer(
              'fc_b',
              this.#tensor([classes], () => this.rand()),
            ),
          ],
          { transB: 1 },
          { name: 'fc' },
        ),
        'y',
      );
    } else {
      h = this.b.node('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
      const spatial = 16;
      if (kind === 'flatten') {
        const f = this.b.node('Flatten', [h], { axis: 1 });
        const w = this.b.initializer(
          'fc_w',
          this.#tensor([c * spatial, classes], () => (this.rand() - 0.5) * 0.2),
        );
        this.b.output(this.b.node('Gemm', [f, w], {}, { name: 'fc' }), 'y');
      } else {
        const f = this.b.node('Reshape', [h, this.b.initializer('flat_shape', new Tensor('int64', [2], BigInt64Array.from([1n, -1n])))]);
        const w = this.b.initializer(
          'fc_w',
          this.#tensor([c * spatial, classes], () => (this.rand() - 0.5) * 0.2),
        );
        const y = this.b.node('MatMul', [f, w], {}, { name: 'fc' });
        this.b.output(
          this.b.node('Add', [
            y,
            this.b.initializer(
              'fc_b',
              this.#tensor([classes], () => this.rand()),
            ),
          ]),
          'y',
        );
      }
    }
    return this.b.build();
  }
}

/** x[2,32] → MatMul 32x64 → Add → Relu → Gemm(transB) 10x64 → y, plus a tiny conv net for N:M. */
export function mlp(seed = 1): Model {
  const rand = seededRandom(seed);
  const t = (dims: number[]) =>
    new Tensor(
      'float32',
      dims,
      Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1),
    );
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [2, 32]);
  const h = b.node('Relu', [
    b.node('Add', [b.node('MatMul', [x, b.initializer('w1', t([32, 64]))], {}, { name: 'fc1' }), b.initializer('b1', t([64]))]),
  ]);
  const h2 = b.node('Relu', [
    b.node('Gemm', [h, b.initializer('w2', t([300, 64])), b.initializer('b2', t([300]))], { transB: 1 }, { name: 'fc2' }),
  ]);
  b.output(b.node('Gemm', [h2, b.initializer('w3', t([300, 10])), b.initializer('b3', t([10]))], {}, { name: 'fc3' }), 'y');
  return b.build();
}

/** x[1,4,6,6] → Conv 8x4x3x3 → Relu → Conv 8x8x1x1 → y. */
export function smallConv(seed = 2): Model {
  const rand = seededRandom(seed);
  const t = (dims: number[]) =>
    new Tensor(
      'float32',
      dims,
      Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1),
    );
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 4, 6, 6]);
  const h = b.node('Relu', [
    b.node('Conv', [x, b.initializer('cw1', t([8, 4, 3, 3])), b.initializer('cb1', t([8]))], { pads: [1, 1, 1, 1] }, { name: 'conv1' }),
  ]);
  b.output(b.node('Conv', [h, b.initializer('cw2', t([8, 8, 1, 1]))], {}, { name: 'conv2' }), 'y');
  return b.build();
}
