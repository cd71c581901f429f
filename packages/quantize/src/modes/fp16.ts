import { type Model, type Node, Tensor, type Value, attr, opInfo, toFloat32 } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { isExcluded, onnxType, valueDTypes } from '../graph-utils.js';
import { convertToFloat16 } from '../kernels/float16.js';
import { FP16_BLOCK_LIST, type Fp16Options } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { constTensorOf, isFloatConstant } from './fp16-guard.js';

/**
 * What stays float32 besides the block list: nodes by their position in `graph.nodes` before conversion, with the
 * reason (the overflow guard), and every node before position `keepBefore` (the output-error search).
 * @internal
 */
export interface Fp16Plan {
  readonly guard: ReadonlyMap<number, string>;
  readonly keepBefore: number;
}

/** Ops without a float16 form worth trying: control flow keeps float32 (its subgraphs are not converted). */
const ALWAYS_BLOCKED = new Set(['If', 'Loop', 'Scan', 'SequenceConstruct', 'SequenceAt', 'SplitToSequence', 'ConcatFromSequence']);

/**
 * float16 conversion (after onnxconverter-common's `convert_float_to_float16`): every float32 tensor computed by an
 * allowed op becomes float16, float32 constants feeding those ops are converted (round-to-nearest-even), ops on the
 * block list, excluded and unknown-domain ops stay float32 with Casts around them, and with `keepIoTypes` the graph
 * keeps float32 inputs and outputs.
 *
 * Overflow guard: a node whose constants float16 cannot hold (|x| > 65504, or underflow that loses more than 0.1 % of
 * the tensor's norm), or, with calibration data, that computes or reads an activation beyond ±65504, stays float32.
 * Clamping instead is what broke PP-OCRv4 det: its head's BatchNormalization has running variances of 1e7–1e8, which
 * clamped to 65504 scaled that layer's output up to 39×.
 *
 * A float32 `Constant` node (Paddle2ONNX writes every weight as one) is read like an initializer: readers in float16
 * get a float16 copy, readers in float32 (Resize scales, guarded nodes) keep the original, which goes when unread.
 * @internal
 */
export function convertFp16(model: Model, opts: Fp16Options, emit: Emitter, report: ReportBuilder, plan: Fp16Plan): void {
  const g = model.graph;
  const keepIo = opts.keepIoTypes ?? true;
  const block = new Set(opts.blockList ?? FP16_BLOCK_LIST);
  const dtypes = valueDTypes(model);
  const half = new Set<Value>();
  const toHalf = new Map<Value, Value>(); // fp32 value → its fp16 version (Cast or converted initializer)
  const toFloat = new Map<Value, Value>(); // fp16 value → fp32 Cast
  const isF32 = (v: Value) => (dtypes.get(v) ?? v.constValue?.dtype) === 'float32';
  const pos = new Map(g.nodes.map((n, i) => [n, i]));

  const blocked = (n: Node): string | undefined => {
    if (isExcluded(n, opts.exclude)) return 'excluded by option';
    if (block.has(n.opType) || ALWAYS_BLOCKED.has(n.opType)) return 'on the float16 block list';
    if (n.domain !== '' && n.domain !== 'ai.onnx' && opInfo(n) === undefined) return `custom domain '${n.domain}'`;
    const g16 = plan.guard.get(pos.get(n) ?? -1);
    if (g16 !== undefined) return `float16 cannot hold its numbers: ${g16}`;
    if ((pos.get(n) ?? Infinity) < plan.keepBefore)
      return `before the first float16 node that keeps the outputs within maxOutputError ${opts.maxOutputError}`;
    return undefined;
  };

  const halfOf = (v: Value, before: Node): Value => {
    const known = toHalf.get(v);
    if (known !== undefined) return known;
    let h: Value;
    const c = constTensorOf(v);
    if (c !== undefined) {
      const src = toFloat32(c);
      const r = convertToFloat16(src);
      if (r.clamped > 0) {
        report.warn({
          code: 'W_CLAMP',
          node: v.name,
          message: `${r.clamped} values of '${v.name}' exceed the float16 range and were clamped to ±65504`,
        });
      }
      if (r.underflowed > 0) {
        report.warn({
          code: 'W_NUMERIC',
          node: v.name,
          message: `${r.underflowed} non-zero values of '${v.name}' are below the float16 range and became 0`,
        });
      }
      // A tensor read lazily from external data is converted again when the output is written, so only one weight's
      // values are in memory at a time (a model larger than memory converts in bounded memory).
      const t = c.isLazy ? new Tensor('float16', c.dims, () => convertToFloat16(toFloat32(c)).bits) : new Tensor('float16', c.dims, r.bits);
      if (v.isInitializer()) h = emit.init(`${v.name}_fp16`, t);
      else [h] = emit.node(before, 'Constant', [], { attrs: { value: attr.tensor(t) }, name: `${v.name}_fp16`, dtypes: ['float16'] });
    } else {
      const producer = v.producer();
      const at = producer === undefined ? g.nodes[0] : before;
      [h] = emit.node(at, 'Cast', [v], { attrs: { to: attr.int(onnxType('float16')) }, name: `${v.name}_to_fp16`, dtypes: ['float16'] });
    }
    h!.dtype = 'float16';
    h!.shape = v.shape;
    toHalf.set(v, h!);
    half.add(h!);
    return h!;
  };
  const floatOf = (v: Value, before: Node): Value => {
    const known = toFloat.get(v);
    if (known !== undefined) return known;
    const [f] = emit.node(before, 'Cast', [v], {
      attrs: { to: attr.int(onnxType('float32')) },
      name: `${v.name}_to_fp32`,
      dtypes: ['float32'],
    });
    f!.shape = v.shape;
    toFloat.set(v, f!);
    return f!;
  };

  if (!keepIo) {
    for (const v of g.inputs) {
      if (isF32(v) && !v.isInitializer()) {
        v.dtype = 'float16';
        half.add(v);
      }
    }
  }

  for (const n of [...g.nodes]) {
    if (isFloatConstant(n)) continue; // converted where read, see halfOf
    const why = blocked(n);
    if (why !== undefined) {
      n.inputs.forEach((v, i) => {
        if (v !== undefined && half.has(v)) n.replaceInput(i, floatOf(v, n));
      });
      report.pass(n, `kept in float32: ${why}`);
      continue;
    }
    let before = 0;
    let after = 0;
    n.inputs.forEach((v, i) => {
      if (v === undefined || half.has(v) || !isF32(v)) return;
      const c = constTensorOf(v);
      const known = toHalf.has(v);
      const h = halfOf(v, n);
      if (c !== undefined && !known) {
        before += c.byteLength;
        after += c.byteLength / 2;
      }
      n.replaceInput(i, h);
    });
    for (const [name, a] of n.attributes) {
      if (a.type === 'TENSOR' && a.value.dtype === 'float32') {
        const r = convertToFloat16(toFloat32(a.value));
        n.setAttr(name, attr.tensor(new Tensor('float16', a.value.dims, r.bits)));
      }
    }
    if (n.opType === 'Cast' && n.domain === '' && n.attrInt('to', 1) === onnxType('float32'))
      n.setAttr('to', attr.int(onnxType('float16')));
    for (const o of n.outputs) {
      if (dtypes.get(o) === 'float32') {
        o.dtype = 'float16';
        half.add(o);
      }
    }
    report.done(n, 'float16', before, after);
  }

  // Graph outputs: with keepIoTypes a Cast back to float32 takes over the output's name.
  for (const out of [...g.outputs]) {
    if (!half.has(out) || !keepIo) continue;
    const uses = [...out.uses()];
    const [f] = emit.node(undefined, 'Cast', [out], {
      attrs: { to: attr.int(onnxType('float32')) },
      name: `${out.name}_to_fp32`,
      dtypes: ['float32'],
    });
    const cast = f!.producer()!;
    out.replaceAllUsesWith(f!, { graphOutputs: true });
    for (const u of uses) u.node.replaceInput(u.index, out);
    cast.replaceInput(0, out);
    f!.shape = out.shape;
  }
  if (!keepIo) {
    for (const out of g.outputs) if (half.has(out)) out.dtype = 'float16';
  }
  g.removeUnusedInitializers(); // keeps what If/Loop bodies read by name
  // A float32 Constant all of whose readers took its float16 copy goes; with control flow it stays (a body may read it
  // by name, which no use-list shows).
  const subgraphs = g.nodes.some((n) => [...n.attributes.values()].some((a) => a.type === 'GRAPH' || a.type === 'GRAPHS'));
  if (!subgraphs)
    for (const n of [...g.nodes])
      if (isFloatConstant(n) && toHalf.has(n.outputs[0]!) && n.outputs[0]!.uses().length === 0 && !n.outputs[0]!.isGraphOutput())
        g.remove(n);
}
