import { describe, expect, it } from 'vitest';
import { type Model, ModelBuilder, Tensor } from '@mc/ir';
import { countOps, errorOf, seededNormal } from '@mc/ir/testing';
import { runModel } from '@mc/verify';
import { quantize } from '../src/index.js';
import { type Bnb4Type, dequantizeBnb4, quantizeBnb4 } from '../src/kernels/bnb4.js';
import { netFeeds, runWeb, smallNet } from './helpers.js';

const QUANT_TYPE = { fp4: 0, nf4: 1 } as const;

function normal(seed: number, n: number, scale = 1): Float32Array {
  const g = seededNormal(seed);
  return Float32Array.from({ length: n }, () => g() * scale);
}

/** One com.microsoft.MatMulBnb4 node: A [M, K] × (packed B, absmax) → [M, N]. */
function bnb4Node(packed: Uint8Array, absmax: Float32Array, m: number, k: number, n: number, bs: number, type: Bnb4Type): Model {
  const b = new ModelBuilder({ opset: 17, irVersion: 8, opsets: { 'com.microsoft': 1 } });
  const a = b.input('A', 'float32', [m, k]);
  const y = b.node(
    'MatMulBnb4',
    [
      a,
      b.initializer('B', new Tensor('uint8', [packed.length], packed)),
      b.initializer('absmax', new Tensor('float32', [absmax.length], absmax)),
    ],
    { K: k, N: n, block_size: bs, quant_type: QUANT_TYPE[type] },
    { domain: 'com.microsoft', name: 'bnb4' },
  );
  b.output(y, 'Y', { dtype: 'float32', shape: [m, n] });
  return b.build();
}

/** A · Wᵀ with Wt the [N, K] weight our reader gives, in double. */
function matmulT(a: Float32Array, wt: Float32Array, m: number, k: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let x = 0; x < k; x++) y[i * n + j] += a[i * k + x]! * wt[j * k + x]!;
  return y;
}

/** Largest |onnxruntime − A·dequant(B)| relative to the largest |A·dequant(B)|: what the bit-exactness check reads. */
async function ortRelativeError(
  packed: Uint8Array,
  q: { absmax: Float32Array },
  m: number,
  k: number,
  n: number,
  bs: number,
  type: Bnb4Type,
) {
  const a = normal(11, m * k);
  const ref = matmulT(a, dequantizeBnb4(packed, q.absmax, n * k, bs, type), m, k, n);
  // the reference reads the packing as mc wrote it (`packed` may be a corrupted copy handed to onnxruntime)
  const got = (await runModel(bnb4Node(packed, q.absmax, m, k, n, bs, type), { A: new Tensor('float32', [m, k], a) })).Y!
    .data as Float32Array;
  let err = 0;
  let big = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - ref[i]!));
    big = Math.max(big, Math.abs(ref[i]!));
  }
  return err / big;
}

describe('bnb4 packing is what onnxruntime MatMulBnb4 reads', () => {
  // K·N not a multiple of the block (blocks run across columns of B), and odd (a padding nibble)
  for (const [k, n, bs] of [
    [96, 40, 64],
    [100, 7, 64],
    [33, 5, 16],
    [256, 24, 256],
  ] as const) {
    for (const type of ['nf4', 'fp4'] as const) {
      it(`${type} K=${k} N=${n} block ${bs}: onnxruntime-node = A·dequant(B) within 1e-5 relative`, async () => {
        const wt = normal(k * n + bs, n * k, 0.05);
        const q = quantizeBnb4(wt, bs, type);
        expect(await ortRelativeError(q.packed, q, 3, k, n, bs, type)).toBeLessThanOrEqual(1e-5);
      });
    }
  }

  it('fault check: the same bytes with the two nibbles of every byte swapped fail it (relative error > 0.1)', async () => {
    const [k, n, bs] = [96, 40, 64];
    const q = quantizeBnb4(normal(5, n * k, 0.05), bs, 'nf4');
    const swapped = q.packed.map((b) => ((b & 0xf) << 4) | (b >> 4));
    // our reader on the swapped bytes, onnxruntime on the correct ones: they disagree
    const a = normal(11, 3 * k);
    const wrong = matmulT(a, dequantizeBnb4(swapped, q.absmax, n * k, bs, 'nf4'), 3, k, n);
    const ort = (await runModel(bnb4Node(q.packed, q.absmax, 3, k, n, bs, 'nf4'), { A: new Tensor('float32', [3, k], a) })).Y!
      .data as Float32Array;
    let err = 0;
    let big = 0;
    for (let i = 0; i < wrong.length; i++) {
      err = Math.max(err, Math.abs(ort[i]! - wrong[i]!));
      big = Math.max(big, Math.abs(wrong[i]!));
    }
    expect(err / big).toBeGreaterThan(0.1);
    expect(await ortRelativeError(q.packed, q, 3, k, n, bs, 'nf4')).toBeLessThanOrEqual(1e-5);
  });
});

describe('quantize mode bnb4', () => {
  it('smallNet: MatMul and Gemm become MatMulBnb4 (Conv stays float32, with the reason); node and web agree, cos ≥ 0.99', async () => {
    const model = smallNet();
    const { model: q, report } = await quantize(model, { mode: 'bnb4' });
    const ops = countOps(q);
    expect(ops['com.microsoft::MatMulBnb4']).toBe(2);
    expect(ops.Conv).toBe(1);
    expect(ops.MatMul ?? 0).toBe(0);
    expect(report.nodes.map((r) => r.action)).toEqual(['MatMulBnb4 NF4 block 64', 'MatMulBnb4 NF4 block 64']);
    expect(report.passedThrough.find((p) => p.opType === 'Conv')?.reason).toMatch(/Conv weights stay float32 in bnb4/);
    expect(q.opsetImports.get('com.microsoft')).toBe(1);
    const feeds = netFeeds(1);
    const ref = (await runModel(model, feeds)).logits!.data as Float32Array;
    const got = (await runModel(q, feeds)).logits!.data as Float32Array;
    const web = Object.values(await runWeb(q, feeds))[0]!;
    const cos = (x: ArrayLike<number>, y: ArrayLike<number>) => {
      let xy = 0;
      let xx = 0;
      let yy = 0;
      for (let i = 0; i < x.length; i++) {
        xy += x[i]! * y[i]!;
        xx += x[i]! * x[i]!;
        yy += y[i]! * y[i]!;
      }
      return xy / Math.sqrt(xx * yy);
    };
    expect(cos(ref, got)).toBeGreaterThanOrEqual(0.99);
    for (let i = 0; i < got.length; i++) expect(Math.abs(web[i]! - got[i]!)).toBeLessThanOrEqual(1e-4);
    // the weight bytes: 4 bits plus one float per 64 weights, against 32 bits
    const [fc1] = report.nodes;
    expect(fc1!.bytesAfter).toBe((200 * 64) / 2 + ((200 * 64) / 64) * 4);
    expect(fc1!.bytesBefore).toBe(200 * 64 * 4);
  });

  it('fp4 and block 32 are written into the attributes; bad options are refused before any work', async () => {
    const { model: q } = await quantize(smallNet(), { mode: 'bnb4', quantType: 'fp4', blockSize: 32 });
    const n = q.graph.nodes.find((x) => x.opType === 'MatMulBnb4')!;
    expect(n.attrInt('quant_type')).toBe(0);
    expect(n.attrInt('block_size')).toBe(32);
    expect(await errorOf(quantize(smallNet(), { mode: 'bnb4', blockSize: 48 as 32 }))).toMatch(/blockSize must be 16, 32, 64, 128 or 256/);
    expect(await errorOf(quantize(smallNet(), { mode: 'bnb4', quantType: 'int4' as 'nf4' }))).toMatch(/quantType must be 'nf4' or 'fp4'/);
    expect(await errorOf(quantize(q, { mode: 'bnb4' }))).toMatch(/already quantized: node '.*' is MatMulBnb4/);
  });
});
