import { type Model, type Node, Tensor, type Value, attr, attrOf, biasOf, opInfo, slotOf, toFloat32, weightOf } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf, isExcluded, replaceByContribMatMul } from '../graph-utils.js';
import { BNB4_QUANT_TYPE, quantizeBnb4 } from '../kernels/bnb4.js';
import { transpose2d } from '../kernels/block.js';
import { type Bnb4Options, QUANTIZE_DEFAULTS } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { embeddingTables } from './embeddings.js';

/** Why bnb4 leaves this node (which has a weight) alone, or undefined when it quantizes the weight. */
function skipReason(node: Node, opts: Bnb4Options): string | undefined {
  const w = weightOf(node)!;
  const t = w.tensor;
  if (isExcluded(node, opts.exclude)) return 'excluded by option';
  if (node.opType === 'Conv' || node.opType === 'ConvTranspose')
    return 'Conv weights stay float32 in bnb4: MatMulBnb4 has no Conv form (onnxruntime quantizes MatMul weights only); use int4 or int8 for Conv';
  if (node.opType !== 'MatMul' && node.opType !== 'Gemm') return 'bnb4 covers MatMul and Gemm weights only';
  if (t === undefined || !w.value.isInitializer() || t.dtype !== 'float32') return `weight '${w.value.name}' is not a float32 initializer`;
  if (t.dims.length !== 2) return `weight rank ${t.dims.length}, MatMulBnb4 needs a 2-D weight`;
  if (t.size === 0) return `weight '${w.value.name}' is zero-size [${t.dims.join(', ')}]; passed through untouched`;
  if (node.opType === 'Gemm' && (attrOf(node, 'transA') !== 0 || attrOf(node, 'alpha') !== 1)) return 'Gemm with transA=1 or alpha != 1';
  if (node.opType === 'Gemm' && biasOf(node)?.value !== undefined && attrOf(node, 'beta') !== 1) return 'Gemm with beta != 1';
  return undefined;
}

interface Packed {
  ins: Value[];
  K: number;
  N: number;
  bytes: number;
  maxAbsError: number;
}

/**
 * bnb4: MatMul(A, W) and Gemm(A, W[, C]) with a constant 2-D float32 W become com.microsoft.MatMulBnb4(A, B, absmax)
 * (`K`, `N`, `block_size`, `quant_type`; Gemm keeps its bias as an Add). W is taken as [N, K] (transposed from the
 * [K, N] of MatMul), flattened and quantized by {@link quantizeBnb4}. Conv weights and embedding tables stay float32,
 * each listed in the report with the reason.
 * (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.MatMulBnb4)
 * @internal
 */
export function quantizeBnb4Mode(model: Model, opts: Bnb4Options, emit: Emitter, report: ReportBuilder): void {
  const bs = opts.blockSize ?? QUANTIZE_DEFAULTS.bnb4.blockSize;
  const type = opts.quantType ?? QUANTIZE_DEFAULTS.bnb4.quantType;
  const g = model.graph;
  const tables = new Set(embeddingTables(model));
  const cache = new Map<Value, Packed>();
  for (const node of [...g.nodes]) {
    const w = weightOf(node);
    if (w === undefined) {
      const data = node.opType === 'Gather' ? slotOf(node, 'data') : undefined;
      if (data !== undefined && tables.has(data))
        report.pass(
          node,
          'embedding table stays float32 in bnb4 (onnxruntime quantizes MatMul weights only); int4 or q4f16 store it quantized',
        );
      else if (opInfo(node) === undefined || node.domain !== '') report.pass(node, 'no weight to quantize (op not known to mc)');
      continue;
    }
    const why = skipReason(node, opts);
    if (why !== undefined) {
      report.pass(node, why);
      continue;
    }
    const t = w.tensor!;
    let c = cache.get(w.value);
    const first = c === undefined;
    if (c === undefined) {
      const [d0, d1] = t.dims as [number, number];
      const K = w.inAxis === 0 ? d0 : d1;
      const N = w.inAxis === 0 ? d1 : d0;
      const src = toFloat32(t);
      const q = quantizeBnb4(w.inAxis === 0 ? transpose2d(src, K, N) : src, bs, type);
      const B = new Tensor('uint8', [q.packed.length], q.packed);
      const absmax = new Tensor('float32', [q.absmax.length], q.absmax);
      const ins = [emit.init(`${w.value.name}_bnb4`, B), emit.init(`${w.value.name}_absmax`, absmax)];
      c = { ins, K, N, bytes: bytesOf(B, absmax), maxAbsError: q.maxAbsError };
      cache.set(w.value, c);
    }
    replaceByContribMatMul(model, emit, node, 'MatMulBnb4', [slotOf(node, 'input')!, ...c.ins], {
      K: attr.int(c.K),
      N: attr.int(c.N),
      block_size: attr.int(bs),
      quant_type: attr.int(BNB4_QUANT_TYPE[type]),
    });
    report.done(
      node,
      `MatMulBnb4 ${type.toUpperCase()} block ${bs}${first ? '' : ' (shared)'}`,
      first ? t.byteLength : 0,
      first ? c.bytes : 0,
      c.maxAbsError,
    );
  }
  for (const v of cache.keys()) if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
}
