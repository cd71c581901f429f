import { attr, type Value, attrOf, slotOf } from '@mc/ir';
import { convGeometry, copyForward, known, type OrtRule } from './rule.js';

// Reverse-mode rules of the weight ops: Conv, Gemm, MatMul.

/**
 * How a Conv's weight gradient is computed: a Conv with batch and channels swapped, or im2col + one GEMM (default:
 * ~25% faster for mnist_cnn's conv2 in onnxruntime 1.30 with one thread; the Conv form has a 9-column output GEMM).
 * @internal
 */
export let convWeightGrad: 'conv' | 'im2col' = 'im2col';
/** @internal For measurements. */
export function setConvWeightGrad(v: 'conv' | 'im2col'): void {
  convWeightGrad = v;
}

export const convRule: OrtRule = {
  trainable: [1, 2],
  check(_node, inShape) {
    const x = inShape(0);
    const w = inShape(1);
    if (x?.length !== 4 || !known(x, 1) || !known(w, 0) || w.length !== 4)
      return 'needs a 2-D convolution with known input channels, spatial size and weight shape';
    return undefined;
  },
  // SAME_* padding as explicit pads: onnxruntime's Conv refuses SAME with dilation, and the backward needs them anyway.
  forward(ctx) {
    if (attrOf(ctx.node, 'auto_pad') === 'NOTSET') return copyForward(ctx);
    const { k, strides, dilations, pads } = convGeometry(ctx.node, ctx.inShape(0)!, ctx.inShape(1)!);
    const ins = ctx.node.inputs.map((v, i) => (v === undefined || v.name === '' ? undefined : ctx.x(i)));
    return [ctx.e.op('Conv', ins, { kernel_shape: k, strides, dilations, pads, group: attrOf(ctx.node, 'group') })];
  },
  backward(ctx, [dy], need) {
    const { e, node } = ctx;
    const x = ctx.x(0)!;
    const w = ctx.x(1)!;
    const { k, strides, dilations, pads, out, r } = convGeometry(node, ctx.inShape(0)!, ctx.inShape(1)!);
    const inSp = ctx.inShape(0)!.slice(2) as number[];
    const group = attrOf(node, 'group');
    const g: (Value | undefined)[] = [];
    if (need[0]) {
      // dX = ConvTranspose(dY, W): the adjoint of the strided, padded correlation; output_padding restores rows the
      // forward's floor() dropped.
      const outPad = inSp.map((d, i) => d - ((out[i]! - 1) * strides[i]! + (k[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + r]!));
      g[0] = e.op('ConvTranspose', [dy, w], { kernel_shape: k, strides, dilations, pads, output_padding: outPad, group });
    }
    if (need[1]) {
      if (convWeightGrad === 'conv' && group === 1) {
        // dW[m, c] = Σ_n X[n, c] ⋆ dY[n, m]: a Conv over X with batch↔channels swapped and dY as the kernel; stride and
        // dilation swap roles. Rows past the kernel (from floor()) are cut.
        const xt = e.op('Transpose', [x], { perm: [1, 0, 2, 3] });
        const dyt = e.op('Transpose', [dy], { perm: [1, 0, 2, 3] });
        let dw = e.op('Conv', [xt, dyt], { strides: dilations, dilations: strides, pads });
        const full = inSp.map((d, i) => Math.floor((d + pads[i]! + pads[i + r]! - ((out[i]! - 1) * strides[i]! + 1)) / dilations[i]!) + 1);
        if (full.some((f, i) => f !== k[i])) dw = e.op('Slice', [dw, e.i64([0, 0]), e.i64(k), e.i64([2, 3])]);
        g[1] = e.op('Transpose', [dw], { perm: [1, 0, 2, 3] });
      } else {
        // im2col on the channel-major input: Xᵀ [C, N, H, W] once, strided slices [C, N, OH, OW] per kernel tap, stacked
        // as cols [C·kh·kw, N·OH·OW]; then dW = dYᵀ [M, N·OH·OW] · colsᵀ, one GEMM with the batch in its inner dimension.
        const c = ctx.inShape(0)![1] as number;
        const m = ctx.inShape(1)![0] as number;
        const xp = pads.some((p) => p !== 0) ? e.op('Pad', [x, e.i64([0, 0, pads[0]!, pads[1]!, 0, 0, pads[2]!, pads[3]!])]) : x;
        const xt = e.op('Transpose', [xp], { perm: [1, 0, 2, 3] });
        const slices: Value[] = [];
        for (let i = 0; i < k[0]!; i++) {
          for (let j = 0; j < k[1]!; j++) {
            const s0 = [i * dilations[0]!, j * dilations[1]!];
            const s1 = [s0[0]! + (out[0]! - 1) * strides[0]! + 1, s0[1]! + (out[1]! - 1) * strides[1]! + 1];
            slices.push(e.op('Unsqueeze', [e.op('Slice', [xt, e.i64(s0), e.i64(s1), e.i64([2, 3]), e.i64(strides)]), e.i64([1])]));
          }
        }
        const kk = k[0]! * k[1]!;
        if (group === 1) {
          const cols = e.op('Reshape', [e.op('Concat', slices, { axis: 1 }), e.i64([c * kk, -1])]);
          const dyt = e.op('Reshape', [e.op('Transpose', [dy], { perm: [1, 0, 2, 3] }), e.i64([m, -1])]);
          g[1] = e.op('Reshape', [e.op('Gemm', [dyt, cols], { transB: 1 }), e.i64([m, c, k[0]!, k[1]!])]);
        } else {
          // Per group: dWᵀ_g [Cg·K, Mg] = cols_g [Cg·K, N·P] · dY_g [N·P, Mg], one batched MatMul over the groups.
          const [cg, mg] = [c / group, m / group];
          const cols = e.op('Reshape', [e.op('Concat', slices, { axis: 1 }), e.i64([group, cg * kk, -1])]);
          const dyg = e.op('Reshape', [
            e.op('Transpose', [e.op('Reshape', [dy, e.i64([0, group, mg, -1])])], { perm: [1, 0, 3, 2] }),
            e.i64([group, -1, mg]),
          ]);
          const dwt = e.op('MatMul', [cols, dyg]);
          g[1] = e.op('Reshape', [e.op('Transpose', [dwt], { perm: [0, 2, 1] }), e.i64([m, cg, k[0]!, k[1]!])]);
        }
      }
    }
    if (need[2]) g[2] = e.sum(dy!, [0, 2, 3], false);
    return g;
  },
};

export const gemmRule: OrtRule = {
  trainable: [1, 2],
  check(node, inShape, outShape) {
    if (slotOf(node, 'C') !== undefined && (inShape(2) === undefined || outShape(0) === undefined)) return 'bias shape unknown';
    return undefined;
  },
  backward(ctx, [dy], need) {
    const { e, node } = ctx;
    const [a, b] = [ctx.x(0)!, ctx.x(1)!];
    const ta = attrOf(node, 'transA');
    const tb = attrOf(node, 'transB');
    const alpha = attrOf(node, 'alpha');
    const beta = attrOf(node, 'beta');
    const al = alpha === 1 ? {} : { alpha: attr.float(alpha) };
    const g: (Value | undefined)[] = [];
    // Y = α·A'·B' + β·C with A' = transA ? Aᵀ : A, B' likewise.
    if (need[0]) g[0] = ta ? e.op('Gemm', [b, dy], { transA: tb, transB: 1, ...al }) : e.op('Gemm', [dy, b], { transB: tb ? 0 : 1, ...al });
    if (need[1]) g[1] = tb ? e.op('Gemm', [dy, a], { transA: 1, transB: ta, ...al }) : e.op('Gemm', [a, dy], { transA: ta ? 0 : 1, ...al });
    if (need[2]) {
      const u = e.unbroadcast(dy!, ctx.x(2)!, ctx.inShape(2), ctx.outShape(0));
      g[2] = u === undefined ? undefined : e.scale(u, beta);
    }
    return g;
  },
};

export const matMulRule: OrtRule = {
  trainable: [1],
  check(_node, inShape) {
    const a = inShape(0);
    const b = inShape(1);
    if (a === undefined || b?.length !== 2 || a.length < 2 || typeof b[0] !== 'number' || typeof b[1] !== 'number')
      return 'needs A of rank ≥ 2 and a 2-D B of known shape';
    return undefined;
  },
  backward(ctx, [dy], need) {
    const { e } = ctx;
    const [a, b] = [ctx.x(0)!, ctx.x(1)!];
    const [kk, n] = ctx.inShape(1) as [number, number];
    const g: (Value | undefined)[] = [];
    if (need[0]) g[0] = e.op('MatMul', [dy, e.op('Transpose', [b])]);
    if (need[1]) {
      const flat = ctx.inShape(0)!.length > 2;
      g[1] = e.op('Gemm', [flat ? e.op('Reshape', [a, e.i64([-1, kk])]) : a, flat ? e.op('Reshape', [dy, e.i64([-1, n])]) : dy!], {
        transA: 1,
      });
    }
    return g;
  },
};
