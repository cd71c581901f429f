import { type Model, type Node, Tensor, type Value, type WeightRef, attr, attrOf, biasOf, slotOf, toFloat32, weightOf } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf, isExcluded, replaceByContribMatMul } from '../graph-utils.js';
import { awqBlocks, refineBlocks } from '../kernels/block-refine.js';
import { type BlockQuantized, packBits, quantizeBlocks, transpose2d } from '../kernels/block.js';
import { gptqBlocks, type InputGram } from '../kernels/gptq.js';
import { INT4_CONV_BITS_DEFAULT, type Int4Options } from '../options.js';
import { opsetRefusal } from '../opset-upgrade.js';
import type { ReportBuilder } from '../report.js';
import { type PackedWeight, embeddingTables, isTransposeOf, quantizeEmbeddings } from './embeddings.js';
import { collectInputGrams } from './int4-calibrate.js';
import { convInt4Weight, convInt8Weight, isConvWeight } from './int4-conv.js';
import { type WeightRewrite, rewriteWeights, weightedNodes } from './weights.js';

/** Quantizes one weight laid out [N, K] (blocks along K); `inputScale` is set when the layer's input must be scaled. */
type BlockKernel = (wt: Float32Array, n: number, k: number) => { r: BlockQuantized; inputScale?: Float32Array; note?: string };

/** The kernel of a method for one layer (`gram`: statistics of that layer's input, for the data-aware methods). */
function kernelFor(opts: Int4Options, bs: number, symmetric: boolean, gram: InputGram | undefined): BlockKernel {
  const method = opts.method ?? 'rtn';
  if (method === 'hqq') return (wt, n, k) => ({ r: refineBlocks(wt, n, k, bs, symmetric) });
  if (method === 'gptq' && gram !== undefined) return (wt, n, k) => ({ r: gptqBlocks(wt, n, k, bs, symmetric, gram, opts.damp ?? 0.01) });
  if (method === 'awq' && gram !== undefined) {
    return (wt, n, k) => {
      const a = awqBlocks(wt, n, k, bs, symmetric, gram);
      return {
        r: a.quantized,
        ...(a.alpha > 0 && { inputScale: a.inputScale }),
        note: `alpha ${a.alpha.toFixed(2)}, output error ${(a.errorChosen / Math.max(a.errorRtn, 1e-30)).toFixed(3)}x RTN's`,
      };
    };
  }
  return (wt, n, k) => ({ r: quantizeBlocks(wt, n, k, bs, symmetric) });
}

const INT4_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);

/** Why int4 leaves this node alone, or undefined when it quantizes its weight. */
export function skipReason(node: Node, opts: Int4Options): string | undefined {
  const w = weightOf(node);
  const t = w?.tensor;
  if (w === undefined) return 'no weight';
  return isExcluded(node, opts.exclude)
    ? 'excluded by option'
    : !INT4_OPS.has(node.opType)
      ? 'int4 covers MatMul, Gemm, Conv and ConvTranspose weights only'
      : t === undefined || !w.value.isInitializer() || t.dtype !== 'float32'
        ? `weight '${w.value.name}' is not a float32 initializer`
        : isConvWeight(node)
          ? t.size === 0
            ? `weight '${w.value.name}' is zero-size [${t.dims.join(', ')}]; passed through untouched`
            : undefined
          : t.dims.length !== 2
            ? `weight rank ${t.dims.length}, int4 needs a 2-D weight`
            : t.size === 0
              ? `weight '${w.value.name}' is zero-size [${t.dims.join(', ')}]; passed through untouched`
              : node.opType === 'Gemm' && (attrOf(node, 'transA') !== 0 || attrOf(node, 'alpha') !== 1)
                ? 'Gemm with transA=1 or alpha != 1'
                : node.opType === 'Gemm' && biasOf(node)?.value !== undefined && attrOf(node, 'beta') !== 1
                  ? 'Gemm with beta != 1'
                  : undefined;
}

/**
 * The opset int4 needs for Conv weights (DequantizeLinear `block_size` is opset 21) with format 'matmulnbits', whose
 * MatMul weights need none; `refusal` (the reason Conv weights stay float32) when the model's opset cannot be raised.
 * @internal
 */
export function int4ConvPlan(model: Model, opts: Int4Options): { opset: number; refusal?: string } {
  if ((opts.format ?? 'matmulnbits') !== 'matmulnbits') return { opset: 0 };
  if (!model.graph.nodes.some((n) => isConvWeight(n) && skipReason(n, opts) === undefined)) return { opset: 0 };
  const conv4 = (opts.convBits ?? INT4_CONV_BITS_DEFAULT) === 4;
  const opset = conv4 ? 21 : 13;
  const why = opsetRefusal(model, opset);
  if (why === undefined) return { opset };
  const what = conv4
    ? 'int4 Conv weights need DequantizeLinear blocks (opset 21)'
    : 'int8 per-channel Conv weights need DequantizeLinear with an axis (opset 13)';
  return { opset: 0, refusal: `${what}, and ${why}; convert the model to opset ${opset} first (onnx.version_converter)` };
}

/** Input statistics of every layer int4 will quantize, when the method is data-aware. @internal */
async function gramsFor(model: Model, opts: Int4Options): Promise<Map<string, InputGram>> {
  const method = opts.method ?? 'rtn';
  if (method !== 'gptq' && method !== 'awq') return new Map();
  const acts = new Map<string, number>();
  for (const node of model.graph.nodes) {
    if (skipReason(node, opts) !== undefined || isConvWeight(node)) continue; // Conv weights are quantized without statistics
    const w = weightOf(node)!;
    const [d0, d1] = w.tensor!.dims as [number, number];
    const k = w.inAxis === 0 ? d0 : d1;
    const a = slotOf(node, 'input');
    if (a !== undefined) acts.set(a.name, k);
  }
  return collectInputGrams(model, acts, opts);
}

/**
 * int4 block-wise weight-only quantization of MatMul/Gemm weights (RTN), and with `embeddings` of the embedding tables
 * (`quantizeEmbeddings`, after the MatMuls so that a tied table reuses its head's packed bytes).
 *
 * - `matmulnbits`: MatMul(A, W) → com.microsoft.MatMulNBits(A, B, scales[, zero_points]) with B [N, K/bs, bs/2] uint8
 *   (each column's K values in blocks, two per byte, low nibble first), scales [N·K/bs], packed 4-bit zero points
 *   (omitted when symmetric: the op's default zero point is 8). Gemm keeps its bias as an Add.
 *   (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.MatMulNBits)
 * - `dequantize`: the weight becomes DequantizeLinear(int4|uint4 W, scale, zero_point; axis = K axis, block_size) at
 *   opset 21 (https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html) and the node is unchanged.
 * @internal
 */
export async function quantizeInt4(
  model: Model,
  opts: Int4Options,
  emit: Emitter,
  report: ReportBuilder,
  convRefusal?: string,
): Promise<void> {
  const bs = opts.blockSize ?? 32;
  const symmetric = opts.symmetric ?? true;
  const format = opts.format ?? 'matmulnbits';
  const grams = await gramsFor(model, opts);
  const method = opts.method ?? 'rtn';
  // Conv weights have no MatMul input to take statistics from: the data-aware methods quantize them by RTN.
  const convKernel = kernelFor(opts, bs, symmetric, undefined);
  const convRows = (rows: Float32Array, n: number, k: number) => convKernel(rows, n, k).r;
  const convHow = method === 'gptq' || method === 'awq' ? `rtn (${method} covers MatMul/Gemm weights)` : method;
  const conv4 = (opts.convBits ?? INT4_CONV_BITS_DEFAULT) === 4;
  const convWeight = (node: Node, w: WeightRef & { tensor: Tensor }) =>
    conv4 ? convInt4Weight(emit, node, w, convRows, bs, symmetric, convHow) : convInt8Weight(emit, node, w);
  const embeddings = opts.embeddings ?? 'float';
  // Embedding tables have no calibrated input: the data-aware methods quantize them round-to-nearest.
  const tableKernel = (t: Float32Array, rows: number, cols: number) => kernelFor(opts, bs, symmetric, undefined)(t, rows, cols).r;
  if (format === 'matmulnbits') {
    const packed = matMulNBits(model, opts, emit, report, bs, symmetric, grams, convRefusal ?? convWeight);
    if (embeddings !== 'float') quantizeEmbeddings(model, embeddings, bs, symmetric, tableKernel, opts.exclude, packed, emit, report);
    return;
  }
  if (embeddings !== 'float') quantizeEmbeddings(model, embeddings, bs, symmetric, tableKernel, opts.exclude, new Map(), emit, report);
  const accept = (node: Node, w: { tensor: Tensor }): string | undefined => {
    if (isConvWeight(node)) return undefined;
    if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return 'int4 covers MatMul, Gemm, Conv and ConvTranspose weights only';
    if (w.tensor.dims.length !== 2) return `weight rank ${w.tensor.dims.length}, int4 needs a 2-D weight`;
    return undefined;
  };
  rewriteWeights(model, { exclude: opts.exclude, report, accept }, (node, w) => {
    if (isConvWeight(node)) return convWeight(node, w);
    const t = w.tensor;
    const kAxis = w.inAxis;
    const [d0, d1] = t.dims as [number, number];
    const K = kAxis === 0 ? d0 : d1;
    const N = kAxis === 0 ? d1 : d0;
    const src = toFloat32(t);
    const wt = kAxis === 0 ? transpose2d(src, K, N) : src; // [N, K]
    const input = slotOf(node, 'input');
    const { r } = kernelFor(opts, bs, symmetric, input === undefined ? undefined : grams.get(input.name))(wt, N, K);
    const nb = r.blocksPerRow;
    // back to the weight's own layout; blocks run along the K axis
    const qT = kAxis === 0 ? transposeU8(r.q, N, K) : r.q;
    const scaleT = kAxis === 0 ? transpose2d(r.scales, N, nb) : r.scales;
    const sdims = kAxis === 0 ? [nb, N] : [N, nb];
    let qt: Tensor;
    let zt: Tensor | undefined;
    if (symmetric) {
      qt = new Tensor(
        'int4',
        t.dims,
        packBits(
          Array.from(qT, (v) => v - 8),
          4,
        ),
      );
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
    return {
      value: out!,
      action: `int4 DequantizeLinear block ${bs}${symmetric ? ' symmetric' : ' asymmetric'} ${method}`,
      bytesAfter: bytesOf(qt, st, zt),
      maxAbsError: r.maxAbsError,
    };
  });
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
  /** AWQ: the layer's input is multiplied by this [K] vector before the MatMulNBits. */
  inputScale?: Tensor;
  note?: string;
}

function packNBits(t: Tensor, kAxis: number, bs: number, kernel: BlockKernel): NBits {
  const [d0, d1] = t.dims as [number, number];
  const K = kAxis === 0 ? d0 : d1;
  const N = kAxis === 0 ? d1 : d0;
  const compute = () => {
    const src = toFloat32(t);
    const wt = kAxis === 0 ? transpose2d(src, K, N) : src;
    const { r, inputScale, note } = kernel(wt, N, K);
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
    return { B, r, nb, blob, inputScale, note };
  };
  const { B, r, nb, blob, inputScale, note } = compute();
  let zeroPoints: Tensor | undefined;
  if (!r.zeroPoints.every((z) => z === 8)) {
    const per = Math.ceil(nb / 2);
    const zp = new Uint8Array(N * per);
    for (let n = 0; n < N; n++) zp.set(packBits(r.zeroPoints.subarray(n * nb, (n + 1) * nb), 4), n * per);
    zeroPoints = new Tensor('uint8', [N * per], zp);
  }
  // A weight read lazily from external data stays lazy: the packed bits are recomputed (deterministically) when the
  // writer asks for them, so quantizing a model larger than memory streams one tensor at a time.
  const packed = t.isLazy ? new Tensor('uint8', [N, nb, blob], () => compute().B) : new Tensor('uint8', [N, nb, blob], B);
  return {
    B: packed,
    scales: new Tensor('float32', [N * nb], r.scales),
    zeroPoints,
    K,
    N,
    maxAbsError: r.maxAbsError,
    ...(inputScale !== undefined && { inputScale: new Tensor('float32', [K], inputScale) }),
    ...(note !== undefined && { note }),
  };
}

/** Rewrites MatMul/Gemm to MatMulNBits; returns the packed weights stored [N, K] (a tied embedding table may share them). */
function matMulNBits(
  model: Model,
  opts: Int4Options,
  emit: Emitter,
  report: ReportBuilder,
  bs: number,
  symmetric: boolean,
  grams: Map<string, InputGram>,
  conv: ((node: Node, w: WeightRef & { tensor: Tensor }) => WeightRewrite) | string,
): Map<Value, PackedWeight> {
  const method = opts.method ?? 'rtn';
  const g = model.graph;
  const cache = new Map<Value, { ins: Value[]; nb: NBits; kAxis: number; tensor: Tensor; inputScale?: Value }>();
  const convs = new Map<Value, WeightRewrite>();
  for (const { node, w } of weightedNodes(model, report, 'no weight to quantize (op not known to mc)')) {
    const t = w.tensor;
    const why = skipReason(node, opts);
    if (why !== undefined) {
      report.pass(node, why);
      continue;
    }
    if (isConvWeight(node)) {
      // MatMulNBits has no Conv form: the weight becomes int4 DequantizeLinear blocks, the node stays.
      if (typeof conv === 'string') {
        report.pass(node, conv);
        continue;
      }
      let r = convs.get(w.value);
      const first = r === undefined;
      if (r === undefined) convs.set(w.value, (r = conv(node, w as WeightRef & { tensor: Tensor })));
      node.replaceInput(w.index, r.value);
      report.done(node, first ? r.action : `${r.action} (shared)`, first ? t!.byteLength : 0, first ? r.bytesAfter : 0, r.maxAbsError);
      continue;
    }
    let c = cache.get(w.value);
    const first = c === undefined;
    if (c === undefined) {
      const a0 = slotOf(node, 'input');
      const nb = packNBits(t!, w.inAxis, bs, kernelFor(opts, bs, symmetric, a0 === undefined ? undefined : grams.get(a0.name)));
      const ins = [emit.init(`${w.value.name}_nbits`, nb.B), emit.init(`${w.value.name}_scales`, nb.scales)];
      if (nb.zeroPoints !== undefined) ins.push(emit.init(`${w.value.name}_zero_points`, nb.zeroPoints));
      const inputScale = nb.inputScale === undefined ? undefined : emit.init(`${w.value.name}_input_scale`, nb.inputScale);
      c = { ins, nb, kAxis: w.inAxis, tensor: t!, ...(inputScale !== undefined && { inputScale }) };
      cache.set(w.value, c);
    }
    let a = slotOf(node, 'input')!;
    // AWQ: W·diag(s) is quantized, so the input is divided by s (one Mul; every consumer of this weight does it).
    if (c.inputScale !== undefined)
      [a] = emit.node(node, 'Mul', [a, c.inputScale], { name: `${node.name || 'MatMul'}_awq_scale`, dtypes: ['float32'] });
    replaceByContribMatMul(model, emit, node, 'MatMulNBits', [a, ...c.ins], {
      K: attr.int(c.nb.K),
      N: attr.int(c.nb.N),
      bits: attr.int(4),
      block_size: attr.int(bs),
    });
    const how = `${method}${c.nb.note === undefined ? '' : ` (${c.nb.note})`}`;
    report.done(
      node,
      `MatMulNBits 4-bit block ${bs}${symmetric ? ' symmetric' : ' asymmetric'} ${how}${first ? '' : ' (shared)'}`,
      first ? t!.byteLength : 0,
      first ? bytesOf(c.nb.B, c.nb.scales, c.nb.zeroPoints, c.nb.inputScale) : 0,
      c.nb.maxAbsError,
    );
  }
  const packed = new Map<Value, PackedWeight>();
  const tables = (opts.embeddings ?? 'float') === 'float' ? [] : embeddingTables(model);
  for (const [v, c] of cache) {
    if (c.inputScale !== undefined || c.nb.K % bs !== 0) continue; // AWQ quantized W·diag(s), not W
    const p = { B: c.ins[0]!, scales: c.ins[1]!, zeroPoints: c.ins[2], N: c.nb.N, K: c.nb.K, maxAbsError: c.nb.maxAbsError };
    // A weight stored [N, K] (Gemm transB=1) read by a Gather is the table itself, row for row; a weight stored [K, N]
    // equal to a table's transpose is the copy torch.onnx writes for a tied head (constant-folded Transpose).
    if (c.kAxis === 1) packed.set(v, p);
    else for (const t of tables) if (!packed.has(t) && isTransposeOf(c.tensor, t.constValue!)) packed.set(t, p);
  }
  for (const v of [...cache.keys(), ...convs.keys()]) if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
  return packed;
}
