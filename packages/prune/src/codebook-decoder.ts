import { attr, type Attribute, floatToHalf, type Graph, Node, Tensor, type Value } from '@mc/ir';
import { type CodedTensor, type GapCode, gapSteps } from './codebook.js';

function sameCode(a: GapCode, b: GapCode): boolean {
  return a.bits === b.bits && a.entries === b.entries && a.skips.length === b.skips.length && a.skips.every((s, i) => s === b.skips[i]);
}

/** Packs fixed-width fields LSB first into bytes. */
class BitWriter {
  bytes: number[] = [];
  bit = 0;
  write(v: number, width: number): void {
    for (let j = 0; j < width; j++) {
      if ((this.bit & 7) === 0) this.bytes.push(0);
      if ((v >> j) & 1) this.bytes[this.bytes.length - 1]! |= 1 << (this.bit & 7);
      this.bit++;
    }
  }
}

/** Short names: in a codebook-coded file the decoder's names are a noticeable share of the bytes. */
function namer(graph: Graph): () => string {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let i = 0;
  return () => {
    for (;;) {
      let n = '';
      for (let k = i++; ; k = Math.floor(k / letters.length) - 1) {
        n = letters[k % letters.length]! + n;
        if (k < letters.length) break;
      }
      if (graph.uniqueName(n) === n) return n;
    }
  };
}

/**
 * Replaces the initializers of `coded` (all their uses) by one decoder of a joint stream, inserted at the top of the
 * graph. Stored: one uint8 bit stream (the gap codes of each run of tensors that share a gap code, then every value
 * code), one signed step table per run and the codebooks, each shaped [2]*bits so a code's bits index it directly.
 * At load: bits = Reshape(Cast(Mod(BitShift(stream[n,1], 0..7), 2)), -1), split into runs; steps =
 * GatherND(table, Reshape(run, [-1, b])); positions = CumSum(Abs(steps)) where steps > 0, else slot 0; a code's
 * value = GatherND(codebooks, [its tensor, bits of the next entry's code]); Split(ScatterElements(zeros, positions,
 * values)) drops slot 0 → Reshape → Transpose where a layout was swapped. Every input is constant and every output
 * size is known from shapes alone, so onnxruntime folds the whole chain when the session is created; nothing is
 * arithmetic on values, so the decoded tensors equal `decoded` bit for bit. Needs opset ≥ 11. @internal
 */
export function emitCodebookStream(graph: Graph, coded: readonly CodedTensor[], codeBits: number, opset: number): void {
  const first = graph.nodes[0]!;
  const fresh = namer(graph);
  const nodes: Node[] = [];
  const consts = new Map<string, Value>();
  const init = (t: Tensor): Value => {
    // Repeated small constants are stored once.
    const key = t.size <= 16 ? `${t.dtype}:${t.dims.join(',')}:${Array.from(t.data as ArrayLike<number | bigint>).join(',')}` : undefined;
    const hit = key === undefined ? undefined : consts.get(key);
    if (hit !== undefined) return hit;
    const v = graph.addInitializer(fresh(), t, { exactName: true });
    if (key !== undefined) consts.set(key, v);
    return v;
  };
  const i64 = (xs: readonly number[], dims = [xs.length]): Value => init(new Tensor('int64', dims, BigInt64Array.from(xs.map(BigInt))));
  const mk = (opType: string, inputs: Value[], attributes: Record<string, Attribute> = {}, outputs = 1): readonly Value[] => {
    const node = new Node({ opType, inputs, outputs: Array.from({ length: outputs }, fresh), attributes });
    nodes.push(node);
    return node.outputs;
  };
  const mk1 = (opType: string, inputs: Value[], attributes: Record<string, Attribute> = {}): Value => mk(opType, inputs, attributes)[0]!;
  const split = (x: Value, sizes: readonly number[]): readonly Value[] =>
    sizes.length === 1
      ? [x]
      : opset >= 13
        ? mk('Split', [x, i64(sizes)], { axis: attr.int(0) }, sizes.length)
        : mk('Split', [x], { axis: attr.int(0), split: attr.ints(sizes) }, sizes.length);

  const total = coded.reduce((s, c) => s + c.decoded.length, 0);
  const idx = total + 1 < 2 ** 31 ? ('int32' as const) : ('int64' as const);
  const ints = (xs: readonly number[]): Value => (idx === 'int32' ? init(new Tensor('int32', [xs.length], Int32Array.from(xs))) : i64(xs));
  const zero = attr.tensor(new Tensor('float32', [1], new Float32Array([0])));
  const entries = coded.reduce((s, c) => s + c.nonzeros, 0);
  let outputs: readonly Value[];
  if (entries === 0) {
    outputs = coded.map((c) => mk1('ConstantOfShape', [i64(c.dims)], { value: zero }));
  } else {
    // Runs: consecutive tensors with the same gap code share one run of codes and one step table.
    const runs: { code: GapCode; codes: number[] }[] = [];
    for (const c of coded) {
      if (c.gapCodes.length === 0) continue;
      const last = runs[runs.length - 1];
      if (last !== undefined && sameCode(last.code, c.gap)) for (const v of c.gapCodes) last.codes.push(v);
      else runs.push({ code: c.gap, codes: c.gapCodes.slice() });
    }
    const w = new BitWriter();
    for (const r of runs) for (const v of r.codes) w.write(v, r.code.bits);
    for (const c of coded) for (const v of c.codes) w.write(v, codeBits);
    const sizes = [...runs.map((r) => r.codes.length * r.code.bits), entries * codeBits];
    const pad = w.bytes.length * 8 - w.bit;
    if (pad > 0) sizes.push(pad);
    const toIdx = { to: attr.int(idx === 'int32' ? 6 : 7) };
    const stream = init(new Tensor('uint8', [w.bytes.length, 1], Uint8Array.from(w.bytes)));
    const bitsU8 = mk1('Mod', [
      mk1('BitShift', [stream, init(new Tensor('uint8', [8], Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7])))], {
        direction: attr.string('RIGHT'),
      }),
      init(new Tensor('uint8', [], Uint8Array.from([2]))),
    ]);
    const bits = mk1('Reshape', [mk1('Cast', [bitsU8], { to: attr.int(7) }), i64([-1])]);
    const parts = split(bits, sizes);
    // A b-bit code is looked up by its bits as a GatherND index into a [2]*b table (bit j of the code is index j):
    // no arithmetic, and no MatMul for the model's MAC count to mistake for work per sample.
    const table = <T>(values: readonly T[], b: number): T[] => {
      const out: T[] = [];
      const per = values.length / 2 ** b;
      for (let f = 0; f < 2 ** b; f++) {
        let c = 0;
        for (let j = 0; j < b; j++) if ((f >> (b - 1 - j)) & 1) c |= 1 << j;
        out.push(...values.slice(c * per, (c + 1) * per));
      }
      return out;
    };
    const allSteps = runs.flatMap((r) => gapSteps(r.code));
    // Steps fit int16 unless a skip is ≥ 2^15: stored so, widened after the lookup.
    const short = allSteps.every((x) => Math.abs(x) < 2 ** 15);
    const runSteps = runs.map((r, i) => {
      const t = table(gapSteps(r.code), r.code.bits);
      const dims = Array.from({ length: r.code.bits }, () => 2);
      const data = short
        ? init(new Tensor('int16', dims, Int16Array.from(t)))
        : idx === 'int32'
          ? init(new Tensor('int32', dims, Int32Array.from(t)))
          : init(new Tensor('int64', dims, BigInt64Array.from(t.map(BigInt))));
      return mk1('GatherND', [data, mk1('Reshape', [parts[i]!, i64([-1, r.code.bits])])]);
    });
    let step = runSteps.length === 1 ? runSteps[0]! : mk1('Concat', runSteps, { axis: attr.int(0) });
    if (short) step = mk1('Cast', [step], toIdx);
    // Every code writes: an entry at its position, a skip into slot 0, which is dropped (onnxruntime folds only
    // nodes whose output size is known before running them, so no Compress/NonZero). A code reads the value of
    // the entry it is or precedes (every skip precedes an entry): the exclusive cumulative count of entries.
    const axis0 = init(new Tensor('int32', [], Int32Array.from([0])));
    const at = mk1('CumSum', [mk1('Abs', [step]), axis0]);
    const isEntry = mk1('Cast', [mk1('Greater', [step, ints([0])])], toIdx);
    const pos = mk1('Mul', [at, isEntry]);
    const entry = mk1('CumSum', [isEntry, axis0], { exclusive: attr.int(1) });
    let index = mk1('Gather', [mk1('Reshape', [parts[runs.length]!, i64([-1, codeBits])]), entry], { axis: attr.int(0) });
    // Codebooks padded to 2^bits values, one per tensor: [tensors, 2, …, 2]; a code's tensor is the number of tensor
    // starts at or before its position.
    const starts: number[] = [];
    let off = 1;
    for (const [t, c] of coded.entries()) {
      if (t > 0) starts.push(off - 1); // position ≥ off ⇔ position > off − 1
      off += c.decoded.length;
    }
    const size = 2 ** codeBits;
    const flat = coded.flatMap((c) => table([...c.codebook, ...Array.from({ length: size - c.codebook.length }, () => 0)], codeBits));
    const dims = [...(coded.length > 1 ? [coded.length] : []), ...Array.from({ length: codeBits }, () => 2)];
    if (coded.length > 1) {
      const after = mk1('Greater', [
        mk1('Reshape', [at, i64([-1, 1])]),
        idx === 'int32' ? init(new Tensor('int32', [starts.length], Int32Array.from(starts))) : i64(starts),
      ]);
      const casted = mk1('Cast', [after], { to: attr.int(7) });
      const ones =
        opset >= 13
          ? mk1('ReduceSum', [casted, i64([1])], { keepdims: attr.int(1) })
          : mk1('ReduceSum', [casted], { axes: attr.ints([1]), keepdims: attr.int(1) });
      index = mk1('Concat', [ones, index], { axis: attr.int(1) });
    }
    const books = coded[0]!.half
      ? mk1('Cast', [init(new Tensor('float16', dims, Uint16Array.from(flat, floatToHalf)))], { to: attr.int(1) })
      : init(new Tensor('float32', dims, Float32Array.from(flat)));
    const values = mk1('GatherND', [books, index]);
    const buf = mk1('ScatterElements', [mk1('ConstantOfShape', [i64([total + 1])], { value: zero }), pos, values], { axis: attr.int(0) });
    outputs = split(buf, [1, ...coded.map((c) => c.decoded.length)]).slice(1);
    outputs = outputs.map((o, t) => {
      const c = coded[t]!;
      const stored = c.swapped ? [c.dims[1]!, c.dims[0]!, ...c.dims.slice(2)] : c.dims;
      let x = stored.length === 1 ? o : mk1('Reshape', [o, i64(stored)]);
      if (c.swapped) x = mk1('Transpose', [x], { perm: attr.ints([1, 0, ...c.dims.slice(2).map((_, k) => k + 2)]) });
      return x;
    });
  }
  graph.insertBefore(first, nodes);
  for (const [t, c] of coded.entries()) {
    const dense = outputs[t]!;
    dense.dtype = 'float32';
    dense.shape = [...c.dims];
    c.value.replaceAllUsesWith(dense);
    graph.removeInitializer(c.value.name);
  }
}
