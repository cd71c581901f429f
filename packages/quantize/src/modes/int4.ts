import { type Model, Tensor, type Value, attr, biasOf, opInfo, toFloat32, weightOf } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf, isExcluded } from '../graph-utils.js';
import { packBits, quantizeBlocks, transpose2d } from '../kernels/block.js';
import type { Int4Options } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { rewriteWeights } from './weights.js';

/**
 * int4 block-wise weight-only quantization of MatMul/Gemm weights (RTN).
 *
 * - `matmulnbits`: MatMul(A, W) → com.microsoft.MatMulNBits(A, B, scales[, zero_points]) with B [N, K/bs, bs/2] uint8
 *   (each column's K values in blocks, two per byte, low nibble first), scales [N·K/bs], packed 4-bit zero points
 *   (omitted when symmetric: the op's default zero point is 8). Gemm keeps its bias as an Add.
 *   (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.MatMulNBits)
 * - `dequantize`: the weight becomes DequantizeLinear(int4|uint4 W, scale, zero_point; axis = K axis, block_size) at
 *   opset 21 (https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html) and the node is unchanged.
 * @internal
 */
export function quantizeInt4(model: Model, opts: Int4Options, emit: Emitter, report: ReportBuilder): void {
  const bs = opts.blockSize ?? 32;
  const symmetric = opts.symmetric ?? true;
  const format = opts.format ?? 'matmulnbits';
  if (format === 'matmulnbits') {
    matMulNBits(model, opts, emit, report, bs, symmetric);
    return;
  }
  rewriteWeights(
    model,
    opts.exclude,
    report,
    (node, w) => {
      if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return 'int4 covers MatMul and Gemm weights only';
      if (w.tensor.dims.length !== 2) return `weight rank ${w.tensor.dims.length}, int4 needs a 2-D weight`;
      return undefined;
    },
    (node, w) => {
      const t = w.tensor;
      const kAxis = w.inAxis;
      const [d0, d1] = t.dims as [number, number];
      const K = kAxis === 0 ? d0 : d1;
      const N = kAxis === 0 ? d1 : d0;
      const src = toFloat32(t);
      const wt = kAxis === 0 ? transpose2d(src, K, N) : src; // [N, K]
      const r = quantizeBlocks(wt, N, K, bs, symmetric);
      const nb = r.blocksPerRow;
      // back to the weight's own layout; blocks run along the K axis
      const qT = kAxis === 0 ? transposeU8(r.q, N, K) : r.q;
      const scaleT = kAxis === 0 ? transpose2d(r.scales, N, nb) : r.scales;
      const sdims = kAxis === 0 ? [nb, N] : [N, nb];
      let qt: Tensor;
      let zt: Tensor | undefined;
      if (symmetric) {
        qt = new Tensor('int4', t.dims, packBits(Array.from(qT, (v) => v - 8), 4));
      } else {
        qt = new Tensor('uint4', t.dims, packBits(qT, 4));
        const zpT = kAxis === 0 ? transposeU8(r.zeroPoints, N, nb) : r.zeroPoints;
        zt = new Tensor('uint4', sdims, packBits(zpT, 4));
      }
      const st = new Tensor('float32', sdims, scaleT);
      const ins = [emit.init(`${w.value.name}_int4`, qt), emit.init(`${w.value.name}_scale`, st)];
      if (zt !== undefined) ins.push(emit.init(`${w.value.name}_zero_point`, zt));
      const [out] = emit.node(node, 'DequantizeLinear', ins, {
        name: `${w.value.name}_DequantizeLinear`,
        attrs: { axis: attr.int(kAxis), block_size: attr.int(bs) },
        dtypes: ['float32'],
      });
      out!.shape = t.dims;
      return { value: out!, action: `int4 DequantizeLinear block ${bs}${symmetric ? ' symmetric' : ' asymmetric'}`, bytesAfter: bytesOf(qt, st, zt), maxAbsError: r.maxAbsError };
    },
  );
}

function transposeU8(data: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Packed MatMulNBits inputs of one weight. */
interface NBits {
  B: Tensor;
  scales: Tensor;
  zeroPoints: Tensor | undefined;
  K: number;
  N: number;
  maxAbsError: number;
}

function packNBits(t: Tensor, kAxis: number, bs: number, symmetric: boolean): NBits {
  const [d0, d1] = t.dims as [number, number];
  const K = kAxis === 0 ? d0 : d1;
  const N = kAxis === 0 ? d1 : d0;
  const compute = () => {
    const src = toFloat32(t);
    const wt = kAxis === 0 ? transpose2d(src, K, N) : src;
    const r = quantizeBlocks(wt, N, K, bs, symmetric);
    const nb = r.blocksPerRow;
    // B [N, nb, bs/2]; K is padded to nb·bs with the block's zero point, which dequantizes to exactly 0
    const blob = bs / 2;
    const B = new Uint8Array(N * nb * blob);
    for (let n = 0; n < N; n++) {
      const base = n * nb * blob;
      for (let k = 0; k < nb * bs; k++) {
        const v = k < K ? r.q[n * K + k]! : r.zeroPoints[n * nb + Math.floor(k / bs)]!;
        B[base + (k >> 1)] = B[base + (k >> 1)]! | (v << ((k & 1) * 4));
      }
    }
    return { B, r, nb, blob };
  };
  const { B, r, nb, blob } = compute();
  let zeroPoints: Tensor | undefined;
  if (!symmetric) {
    const per = Math.ceil(nb / 2);
    const zp = new Uint8Array(N * per);
    for (let n = 0; n < N; n++) zp.set(packBits(r.zeroPoints.subarray(n * nb, (n + 1) * nb), 4), n * per);
    zeroPoints = new Tensor('uint8', [N * per], zp);
  }
  // A weight read lazily from external data stays lazy: the packed bits are recomputed (deterministically) when the
  // writer asks for them, so quantizing a model larger than memory streams one tensor at a time.
  const packed = t.isLazy ? new Tensor('uint8', [N, nb, blob], () => compute().B) : new Tensor('uint8', [N, nb, blob], B);
  return { B: packed, scales: new Tensor('float32', [N * nb], r.scales), zeroPoints, K, N, maxAbsError: r.maxAbsError };
}

function matMulNBits(model: Model, opts: Int4Options, emit: Emitter, report: ReportBuilder, bs: number, symmetric: boolean): void {
  const g = model.graph;
  const cache = new Map<Value, { ins: Value[]; nb: NBits }>();
  let domainAdded = false;
  for (const node of [...g.nodes]) {
    const w = weightOf(node);
    if (w === undefined) {
      if (opInfo(node) === undefined || node.domain !== '') report.pass(node, 'no weight to quantize (op not known to mc)');
      continue;
    }
    const t = w.tensor;
    const why = isExcluded(node, opts.exclude)
      ? 'excluded by option'
      : node.opType !== 'MatMul' && node.opType !== 'Gemm'
        ? 'int4 covers MatMul and Gemm weights only'
        : t === undefined || !w.value.isInitializer() || t.dtype !== 'float32'
          ? `weight '${w.value.name}' is not a float32 initializer`
          : t.dims.length !== 2
            ? `weight rank ${t.dims.length}, int4 needs a 2-D weight`
            : t.size === 0
              ? `weight '${w.value.name}' is zero-size [${t.dims.join(', ')}]; passed through untouched`
            : node.opType === 'Gemm' && (node.attrInt('transA', 0) !== 0 || node.attrFloat('alpha', 1) !== 1)
              ? 'Gemm with transA=1 or alpha != 1'
              : node.opType === 'Gemm' && biasOf(node)?.value !== undefined && node.attrFloat('beta', 1) !== 1
                ? 'Gemm with beta != 1'
                : undefined;
    if (why !== undefined) {
      report.pass(node, why);
      continue;
    }
    let c = cache.get(w.value);
    const first = c === undefined;
    if (c === undefined) {
      const nb = packNBits(t!, w.inAxis, bs, symmetric);
      const ins = [emit.init(`${w.value.name}_nbits`, nb.B), emit.init(`${w.value.name}_scales`, nb.scales)];
      if (nb.zeroPoints !== undefined) ins.push(emit.init(`${w.value.name}_zero_points`, nb.zeroPoints));
      c = { ins, nb };
      cache.set(w.value, c);
    }
    if (!domainAdded) {
      if (!model.opsetImports.has('com.microsoft')) model.opsetImports.set('com.microsoft', 1);
      domainAdded = true;
    }
    const a = node.inputs[0]!;
    const [y] = emit.node(node, 'MatMulNBits', [a, ...c.ins], {
      domain: 'com.microsoft',
      name: `${node.name || 'MatMul'}_MatMulNBits`,
      attrs: { K: attr.int(c.nb.K), N: attr.int(c.nb.N), bits: attr.int(4), block_size: attr.int(bs) },
      dtypes: ['float32'],
    });
    let out = y!;
    const bias = node.opType === 'Gemm' ? biasOf(node)?.value : undefined;
    if (bias !== undefined) [out] = emit.node(node, 'Add', [y!, bias], { name: `${node.name}_bias`, dtypes: ['float32'] });
    out.shape = node.outputs[0]!.shape;
    node.outputs[0]!.replaceAllUsesWith(out, { graphOutputs: true });
    g.remove(node);
    report.done(node, `MatMulNBits 4-bit block ${bs}${symmetric ? ' symmetric' : ' asymmetric'}${first ? '' : ' (shared)'}`, first ? t!.byteLength : 0, first ? bytesOf(c.nb.B, c.nb.scales, c.nb.zeroPoints) : 0, c.nb.maxAbsError);
  }
  for (const v of cache.keys()) if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
}
