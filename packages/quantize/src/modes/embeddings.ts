import { type Model, type Node, Tensor, type Value, attr, namedInput, toFloat32 } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf, isExcluded } from '../graph-utils.js';
import { type BlockQuantized, packBits, quantizeBlocks } from '../kernels/block.js';
import { quantizeAxis } from '../kernels/qparams.js';
import type { EmbeddingsForm } from '../options.js';
import type { ReportBuilder } from '../report.js';

/** Quantizes a [rows, cols] table in blocks along cols (the int4 method's kernel). @internal */
export type TableKernel = (table: Float32Array, rows: number, cols: number) => BlockQuantized;

/** A weight int4 already packed for MatMulNBits, which a Gather of the same table (a tied head) reads too. @internal */
export interface PackedWeight {
  /** MatMulNBits B [N, K/bs, bs/2] uint8, scales [N·K/bs], packed zero points, or undefined when symmetric. */
  readonly B: Value;
  readonly scales: Value;
  readonly zeroPoints: Value | undefined;
  readonly N: number;
  readonly K: number;
  /** Largest |Δ| of the quantized weight. */
  readonly maxAbsError: number;
}

/** Why a Gather is not an embedding lookup mc quantizes, or undefined when it is. */
function skipReason(node: Node, form: EmbeddingsForm, bs: number, exclude: readonly string[] | undefined): string | undefined {
  const data = namedInput(node, 'data');
  const t = data?.constValue;
  if (data === undefined || !data.isInitializer() || t === undefined || t.dtype !== 'float32') return 'table is not a float32 initializer';
  if (isExcluded(node, exclude)) return 'excluded by option';
  if (t.dims.length !== 2) return `table rank ${t.dims.length}; embeddings are 2-D [rows, width]`;
  const axis = node.attrInt('axis', 0);
  if (axis !== 0 && axis !== -2) return `Gather axis ${axis}; an embedding lookup gathers rows (axis 0)`;
  if (t.size < 256) return `table of ${t.size} values is too small to be worth quantizing`;
  if (form !== 'int8-dq' && t.dims[1]! % bs !== 0)
    return `width ${t.dims[1]} is not a multiple of the block size ${bs}; use embeddings 'int8-dq' or another block size`;
  return undefined;
}

/** The float32 [rows, width] initializers that a Gather on axis 0 reads: the embedding tables. @internal */
export function embeddingTables(model: Model): Value[] {
  const out = new Set<Value>();
  for (const n of model.graph.nodes) {
    if (n.opType !== 'Gather' || n.domain !== '') continue;
    const d = namedInput(n, 'data');
    const t = d?.constValue;
    const axis = n.attrInt('axis', 0);
    if (d !== undefined && d.isInitializer() && t?.dtype === 'float32' && t.dims.length === 2 && (axis === 0 || axis === -2)) out.add(d);
  }
  return [...out];
}

/** True when `w` [K, N] is the transpose of `table` [N, K], value for value. @internal */
export function isTransposeOf(w: Tensor, table: Tensor): boolean {
  const [k, n] = w.dims as [number, number];
  if (
    w.dims.length !== 2 ||
    table.dims.length !== 2 ||
    table.dims[0] !== n ||
    table.dims[1] !== k ||
    w.dtype !== 'float32' ||
    table.dtype !== 'float32'
  )
    return false;
  const a = toFloat32(w);
  const b = toFloat32(table);
  for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) if (a[c * n + r] !== b[r * k + c]) return false;
  return true;
}

/** Packs [rows, cols] 4-bit codes two per byte along cols, low nibble first (MatMulNBits' and GatherBlockQuantized's layout). */
function packRows(q: Uint8Array, rows: number, cols: number): Uint8Array {
  const per = Math.ceil(cols / 2);
  const out = new Uint8Array(rows * per);
  for (let r = 0; r < rows; r++) out.set(packBits(q.subarray(r * cols, (r + 1) * cols), 4), r * per);
  return out;
}

/**
 * Weight-only quantization of embedding tables: every `Gather(float32 initializer [rows, width], indices)` on axis 0.
 *
 * - `int4` / `int8`: com.microsoft.GatherBlockQuantized, blocks of `bs` along the width, scales [rows, width/bs].
 *   4-bit: data uint8 [rows, width/2], two codes per byte, low nibble first, zero point 8 when symmetric, else packed
 *   4-bit zero points [rows, ⌈width/bs/2⌉] — the layout of MatMulNBits, so a table that is also a head weight
 *   [N = rows, K = width] shares MatMulNBits' packed bytes through two Reshapes instead of being stored twice.
 *   8-bit: data uint8 [rows, width], zero point 128 when symmetric, else uint8 zero points [rows, width/bs].
 *   Only the gathered rows are dequantized.
 *   (https://github.com/microsoft/onnxruntime/blob/main/docs/ContribOperators.md#com.microsoft.GatherBlockQuantized)
 * - `int8-dq`: DequantizeLinear(int8 table, per-row scale, axis 0) → Gather (uint8 with per-row zero points when
 *   asymmetric): standard ONNX from opset 13, for runtimes without the com.microsoft op; the whole table is
 *   dequantized on every run.
 * @internal
 */
export function quantizeEmbeddings(
  model: Model,
  form: EmbeddingsForm,
  bs: number,
  symmetric: boolean,
  kernel: TableKernel,
  exclude: readonly string[] | undefined,
  packed: ReadonlyMap<Value, PackedWeight>,
  emit: Emitter,
  report: ReportBuilder,
): void {
  const g = model.graph;
  const done = new Map<Value, { ins: Value[]; bytes: number; error: number; note: string }>();
  for (const node of [...g.nodes]) {
    if (node.opType !== 'Gather' || node.domain !== '') continue;
    const why = skipReason(node, form, bs, exclude);
    if (why !== undefined) {
      // Gathers of shapes and other non-table data are not embeddings: nothing to say about them.
      if (why !== 'table is not a float32 initializer') report.pass(node, `embedding kept float32: ${why}`);
      continue;
    }
    const table = namedInput(node, 'data')!;
    const indices = namedInput(node, 'indices')!;
    const t = table.constValue!;
    const [rows, cols] = t.dims as [number, number];
    let c = done.get(table);
    const first = c === undefined;
    if (c === undefined) {
      c =
        form === 'int8-dq'
          ? int8Table(table, t, rows, symmetric, node, emit)
          : blockTable(table, t, rows, cols, bs, form === 'int4' ? 4 : 8, symmetric, kernel, packed.get(table), node, emit);
      done.set(table, c);
    }
    const y =
      form !== 'int8-dq'
        ? emit.node(node, 'GatherBlockQuantized', [c.ins[0], indices, c.ins[1], c.ins[2]], {
            domain: 'com.microsoft',
            name: `${node.name || 'Gather'}_GatherBlockQuantized`,
            attrs: {
              gather_axis: attr.int(0),
              quantize_axis: attr.int(1),
              block_size: attr.int(bs),
              bits: attr.int(form === 'int4' ? 4 : 8),
            },
            dtypes: ['float32'],
          })[0]!
        : emit.node(node, 'Gather', [c.ins[0], indices], {
            name: node.name || 'Gather',
            attrs: { axis: attr.int(0) },
            dtypes: ['float32'],
          })[0]!;
    y.shape = node.outputs[0]!.shape;
    node.outputs[0]!.replaceAllUsesWith(y, { graphOutputs: true });
    g.remove(node);
    if (form === 'int8-dq' && node.name !== '') y.producer()!.name = node.name; // the same lookup, on the dequantized table
    report.done(node, `${c.note}${first ? '' : ' (shared)'}`, first ? t.byteLength : 0, first ? c.bytes : 0, c.error);
  }
  if (form !== 'int8-dq' && done.size > 0 && !model.opsetImports.has('com.microsoft')) model.opsetImports.set('com.microsoft', 1);
  for (const v of done.keys()) if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
}

function blockTable(
  table: Value,
  t: Tensor,
  rows: number,
  cols: number,
  bs: number,
  bits: 4 | 8,
  symmetric: boolean,
  kernel: TableKernel,
  tied: PackedWeight | undefined,
  at: Node,
  emit: Emitter,
): { ins: Value[]; bytes: number; error: number; note: string } {
  const nb = cols / bs;
  if (bits === 4 && tied !== undefined && tied.N === rows && tied.K === cols) {
    // A tied head: the table is the head's weight [N = rows, K = width]; MatMulNBits B [N, nb, bs/2] is the table's
    // packed rows, so two Reshapes (folded by onnxruntime at load) give GatherBlockQuantized its inputs.
    const shape = (name: string, dims: number[]) => emit.init(name, new Tensor('int64', [dims.length], BigInt64Array.from(dims, BigInt)));
    const reshape = (v: Value, dims: number[], dtype: string) => {
      const [y] = emit.node(at, 'Reshape', [v, shape(`${v.name}_shape`, dims)], { name: `${v.name}_as_table`, dtypes: [dtype] });
      y!.shape = dims;
      return y!;
    };
    const ins = [reshape(tied.B, [rows, cols / 2], 'uint8'), reshape(tied.scales, [rows, nb], 'float32')];
    if (tied.zeroPoints !== undefined) ins.push(reshape(tied.zeroPoints, [rows, Math.ceil(nb / 2)], 'uint8'));
    return {
      ins,
      bytes: 0,
      error: tied.maxAbsError,
      note: `GatherBlockQuantized 4-bit block ${bs}, tied to the head's MatMulNBits weight (stored once)`,
    };
  }
  const r = bits === 4 ? kernel(toFloat32(t), rows, cols) : quantizeBlocks(toFloat32(t), rows, cols, bs, symmetric, 8);
  const neutral = bits === 4 ? 8 : 128;
  const data = emit.init(
    `${table.name}_q${bits}`,
    new Tensor('uint8', [rows, (cols * bits) / 8], bits === 4 ? packRows(r.q, rows, cols) : r.q),
  );
  const scales = emit.init(`${table.name}_scales`, new Tensor('float32', [rows, nb], r.scales));
  const ins = [data, scales];
  let zt: Tensor | undefined;
  if (!symmetric || !r.zeroPoints.every((z) => z === neutral)) {
    zt =
      bits === 4
        ? new Tensor('uint8', [rows, Math.ceil(nb / 2)], packRows(r.zeroPoints, rows, nb))
        : new Tensor('uint8', [rows, nb], r.zeroPoints);
    ins.push(emit.init(`${table.name}_zero_points`, zt));
  }
  return {
    ins,
    bytes: bytesOf(data.constValue, scales.constValue, zt),
    error: r.maxAbsError,
    note: `GatherBlockQuantized ${bits}-bit block ${bs}${symmetric ? ' symmetric' : ' asymmetric'}`,
  };
}

function int8Table(
  table: Value,
  t: Tensor,
  rows: number,
  symmetric: boolean,
  at: Node,
  emit: Emitter,
): { ins: Value[]; bytes: number; error: number; note: string } {
  const r = quantizeAxis(toFloat32(t), t.dims, 0, symmetric ? 'int8' : 'uint8', { symmetric });
  const q = symmetric ? Int8Array.from(r.q) : Uint8Array.from(r.q);
  const scales = Float32Array.from(r.params, (p) => p.scale);
  const error = r.maxAbsError;
  const qt = new Tensor(symmetric ? 'int8' : 'uint8', t.dims, q);
  const st = new Tensor('float32', [rows], scales);
  const ins = [emit.init(`${table.name}_int8`, qt), emit.init(`${table.name}_scale`, st)];
  let zt: Tensor | undefined;
  if (!symmetric) {
    zt = new Tensor(
      'uint8',
      [rows],
      Uint8Array.from(r.params, (p) => p.zeroPoint),
    );
    ins.push(emit.init(`${table.name}_zero_point`, zt));
  }
  const [dq] = emit.node(at, 'DequantizeLinear', ins, {
    name: `${table.name}_DequantizeLinear`,
    attrs: { axis: attr.int(0) },
    dtypes: ['float32'],
  });
  dq!.shape = t.dims;
  return {
    ins: [dq!],
    bytes: bytesOf(qt, st, zt),
    error,
    note: `int8 DequantizeLinear per row${symmetric ? ' symmetric' : ' asymmetric'} → Gather`,
  };
}
