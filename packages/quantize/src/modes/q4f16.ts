import type { Model } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { FP16_BLOCK_LIST, type Fp16Options, type Q4f16Options } from '../options.js';
import { ReportBuilder } from '../report.js';
import { convertFp16 } from './fp16.js';
import { planFp16 } from './fp16-plan.js';
import { quantizeInt4 } from './int4.js';

/**
 * q4f16: int4 MatMulNBits weights (embeddings 8-bit GatherBlockQuantized by default), then float16 for every float32
 * part that is left. A DequantizeLinear (embeddings 'int8-dq') stays float32: float16 scales need opset 19.
 * @internal
 */
export async function quantizeQ4f16(
  model: Model,
  opts: Q4f16Options,
  emit: Emitter,
  report: ReportBuilder,
  convRefusal?: string,
): Promise<void> {
  const { keepIoTypes, blockList, ...int4 } = opts;
  await quantizeInt4(
    model,
    { ...int4, mode: 'int4', format: 'matmulnbits', embeddings: opts.embeddings ?? 'int8' },
    emit,
    report,
    convRefusal,
  );
  const fp16: Fp16Options = {
    mode: 'fp16',
    ...(opts.exclude !== undefined && { exclude: opts.exclude }),
    keepIoTypes: keepIoTypes ?? true,
    blockList: [...(blockList ?? FP16_BLOCK_LIST), 'DequantizeLinear'],
  };
  const half = new ReportBuilder();
  convertFp16(model, fp16, emit, half, await planFp16(model, fp16, half));
  // One entry per node: an int4 node's entry gains the float16 step (its scales halve); a node int4 passed through
  // and fp16 converted is done, not passed through.
  const at = new Map(report.nodes.map((n, i) => [n.node, i]));
  for (const h of half.nodes) {
    // int4 named its nodes after the ones they replace
    const i = at.get(h.node) ?? at.get(h.node.replace(/_(MatMulNBits|GatherBlockQuantized)(_\d+)?$/, ''));
    if (i === undefined) {
      report.nodes.push(h);
      for (let j = report.passedThrough.length - 1; j >= 0; j--)
        if (report.passedThrough[j]!.node === h.node) report.passedThrough.splice(j, 1);
      continue;
    }
    const n = report.nodes[i]!;
    report.nodes[i] = { ...n, action: `${n.action}, float16 compute`, bytesAfter: n.bytesAfter - (h.bytesBefore - h.bytesAfter) };
  }
  report.passedThrough.push(...half.passedThrough);
  report.warnings.push(...half.warnings);
}
