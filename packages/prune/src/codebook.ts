import { attr, type Attribute, floatToHalf, type Graph, halfToFloat, Node, Tensor, type Value } from '@mc/ir';

/**
 * 1-D k-means (Lloyd) with linear initialisation between min and max, the initialisation Deep Compression found best
 * for weight sharing (Han et al. 2016, §3.2). Returns centroids and the code of every value. @internal
 */
export function kmeans1d(values: Float32Array, k: number, iterations = 40): { centroids: Float32Array; codes: Uint8Array; maxAbsError: number } {
  const n = values.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const kk = Math.max(1, Math.min(k, n));
  const c = new Float64Array(kk);
  for (let j = 0; j < kk; j++) c[j] = kk === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * j) / (kk - 1);
  const codes = new Uint8Array(n);
  const sum = new Float64Array(kk);
  const cnt = new Float64Array(kk);
  for (let it = 0; it < iterations; it++) {
    sum.fill(0);
    cnt.fill(0);
    // Centroids stay sorted, so the nearest one is found by a binary search on midpoints.
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      let a = 0;
      let b = kk - 1;
      while (a < b) {
        const m = (a + b) >> 1;
        if (v > (c[m]! + c[m + 1]!) / 2) a = m + 1;
        else b = m;
      }
      codes[i] = a;
      sum[a] = sum[a]! + v;
      cnt[a] = cnt[a]! + 1;
    }
    let moved = 0;
    for (let j = 0; j < kk; j++) {
      if (cnt[j] === 0) continue;
      const nc = sum[j]! / cnt[j]!;
      moved = Math.max(moved, Math.abs(nc - c[j]!));
      c[j] = nc;
    }
    c.sort();
    if (moved === 0) break;
  }
  let maxAbsError = 0;
  for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(values[i]! - Math.fround(c[codes[i]!]!)));
  return { centroids: Float32Array.from(c), codes, maxAbsError };
}

/**
 * Fixed-width code of the gaps between stored entries (a gap is the distance from the previous entry, ≥ 1). A code
 * `c < entries` stores an entry `c + 1` positions after the previous position; a code `entries + j` advances
 * `skips[j]` positions and stores nothing. With `skips` holding `entries`, every gap has a code sequence. @internal
 */
export interface GapCode {
  bits: number;
  entries: number;
  /** Skip lengths, descending; the last is `entries`. */
  skips: number[];
}

/** Skip codes greedy, longest first, for one gap: how many codes it takes (the entry code included). */
function codesForGap(gap: number, g: GapCode): number {
  let r = gap;
  let n = 1;
  for (const s of g.skips) {
    if (r <= g.entries) break;
    // Subtract s while the remainder stays above the entry range and ≥ 1 after the subtraction.
    const t = Math.max(0, Math.min(Math.ceil((r - g.entries) / s), Math.floor((r - 1) / s)));
    r -= t * s;
    n += t;
  }
  return n;
}

function totalCodes(hist: ReadonlyMap<number, number>, g: GapCode): number {
  let n = 0;
  for (const [gap, count] of hist) n += count * codesForGap(gap, g);
  return n;
}

/**
 * The gap code of fewest bits for these gaps: widths 1–8 bits, with up to two long skips besides `entries` (long
 * runs of zeros, e.g. the all-zero rows an input's dead pixels leave in a first layer, cost one code). @internal
 */
export function chooseGapCode(gaps: readonly number[]): { code: GapCode; count: number } {
  const hist = new Map<number, number>();
  for (const g of gaps) hist.set(g, (hist.get(g) ?? 0) + 1);
  let best: { code: GapCode; count: number } | undefined;
  const cost = (x: { code: GapCode; count: number }): number => x.code.bits * x.count;
  for (let bits = 1; bits <= 8; bits++) {
    const all = 2 ** bits;
    for (let extra = 0; extra <= Math.min(2, all - 2); extra++) {
      const entries = all - 1 - extra;
      let code: GapCode = { bits, entries, skips: [entries] };
      // Candidate long skips: one short of a frequent long gap (the gap becomes one skip + the entry code), or a
      // multiple of the entry range; weighted by the codes they would save.
      const cands = new Set<number>();
      for (let m = 2; m <= 16; m++) cands.add(m * entries);
      [...hist]
        .filter(([g]) => g > entries + 1)
        .sort((a, b) => b[1] * b[0] - a[1] * a[0])
        .slice(0, 48)
        .forEach(([g]) => cands.add(g - 1));
      for (let k = 0; k < extra; k++) {
        let pick: GapCode | undefined;
        let pickN = Infinity;
        for (const s of cands) {
          if (code.skips.includes(s)) continue;
          const c: GapCode = { bits, entries, skips: [...code.skips, s].sort((a, b) => b - a) };
          const n = totalCodes(hist, c);
          if (n < pickN) {
            pickN = n;
            pick = c;
          }
        }
        if (pick === undefined) break;
        code = pick;
      }
      if (code.skips.length !== all - entries) continue; // not enough distinct skips to fill the code space
      const cand = { code, count: totalCodes(hist, code) };
      if (best === undefined || cost(cand) < cost(best)) best = cand;
    }
  }
  return best!;
}

/** The code sequence of `gaps` (each ≥ 1). @internal */
export function encodeGaps(gaps: readonly number[], g: GapCode): number[] {
  const out: number[] = [];
  for (const gap of gaps) {
    let r = gap;
    for (const [j, s] of g.skips.entries()) {
      if (r <= g.entries) break;
      const t = Math.max(0, Math.min(Math.ceil((r - g.entries) / s), Math.floor((r - 1) / s)));
      for (let i = 0; i < t; i++) out.push(g.entries + j);
      r -= t * s;
    }
    out.push(r - 1);
  }
  return out;
}

/** Signed step of every code: +step for an entry, −skip for a skip. @internal */
export function gapSteps(g: GapCode): number[] {
  return [...Array.from({ length: g.entries }, (_, c) => c + 1), ...g.skips.map((s) => -s)];
}

function sameCode(a: GapCode, b: GapCode): boolean {
  return a.bits === b.bits && a.entries === b.entries && a.skips.length === b.skips.length && a.skips.every((s, i) => s === b.skips[i]);
}

/** One tensor in a codebook stream. @internal */
export interface CodedTensor {
  value: Value;
  dims: number[];
  /** Stored with its first two axes swapped (a Transpose restores them at load). */
  swapped: boolean;
  gap: GapCode;
  gapCodes: number[];
  /** Codebook index of every nonzero, in storage order. */
  codes: Uint8Array;
  codebook: Float32Array;
  /** The codebook is stored as float16 (its values are float16 values). */
  half: boolean;
  maxAbsError: number;
  nonzeros: number;
  /** The tensor as the stream decodes it (original layout). */
  decoded: Float32Array;
  /** Stored bits of this tensor (gap codes + value codes) plus its codebook bytes. */
  bytes: number;
}

/** Swaps the first two axes of a row-major tensor. */
function swap01(data: Float32Array, dims: readonly number[]): { data: Float32Array; dims: number[] } {
  const [a, b] = [dims[0]!, dims[1]!];
  const inner = data.length / (a * b);
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(data.subarray((i * b + j) * inner, (i * b + j + 1) * inner), (j * a + i) * inner);
  return { data: out, dims: [b, a, ...dims.slice(2)] };
}

/**
 * Codes tensors one after another in one position space (each gap counted from the previous tensor's last entry):
 * per tensor a (2^bits)-entry k-means codebook of its nonzeros (its distinct values when there are that few, so small
 * tensors stay exact), the layout (as is or first two axes swapped) and gap code of fewest bits. @internal
 */
export function codeTensors(items: readonly { value: Value; dims: readonly number[]; data: Float32Array }[], bits: number): CodedTensor[] {
  const books = items.map((it) => {
    const nzAt: number[] = [];
    for (let i = 0; i < it.data.length; i++) if (it.data[i] !== 0) nzAt.push(i);
    const vals = Float32Array.from(nzAt, (i) => it.data[i]!);
    const distinct = [...new Set(vals)].sort((a, b) => a - b);
    if (distinct.length <= 2 ** bits) {
      const at = new Map(distinct.map((v, j) => [v, j]));
      return { nzAt, vals, codebook: Float32Array.from(distinct), codeOf: Uint8Array.from(vals, (v) => at.get(v)!) };
    }
    const km = kmeans1d(vals, 2 ** bits);
    return { nzAt, vals, codebook: km.centroids, codeOf: km.codes };
  });
  // Shared values are stored as float16 when every one is 0 or a normal float16 (relative error ≤ 2^-11).
  const half = books.every((b) => b.codebook.every((v) => v === 0 || (Math.abs(v) >= 2 ** -14 && Math.abs(v) <= 65504)));
  if (half) for (const b of books) b.codebook = b.codebook.map((v) => halfToFloat(floatToHalf(v)));
  const out: CodedTensor[] = [];
  let prev = -1; // position of the last entry, in the joint space
  let base = 0;
  for (const [n, it] of items.entries()) {
    const { nzAt, vals, codebook, codeOf } = books[n]!;
    let maxAbsError = 0;
    for (const [j, v] of vals.entries()) maxAbsError = Math.max(maxAbsError, Math.abs(v - codebook[codeOf[j]!]!));
    const decoded = new Float32Array(it.data.length);
    nzAt.forEach((p, j) => (decoded[p] = codebook[codeOf[j]!]!));
    // Codes in the original layout, as a dense array of code+1 (0 = zero) so the swapped layout can be read off it.
    const codePlus = new Float32Array(it.data.length);
    nzAt.forEach((p, j) => (codePlus[p] = codeOf[j]! + 1));
    const layouts: { swapped: boolean; data: Float32Array }[] = [{ swapped: false, data: codePlus }];
    if (it.dims.length >= 2 && it.dims[0]! > 1 && it.dims[1]! > 1) layouts.push({ swapped: true, data: swap01(codePlus, it.dims).data });
    // The gap from the previous tensor's last entry is coded by the previous tensor's skips (its tail) down to
    // what its entry codes could reach; this tensor codes the rest, so a long stretch of zeros at a boundary costs
    // long skips, whatever this tensor's gap code is.
    const before = [...out].reverse().find((c) => c.nonzeros > 0);
    let best: { swapped: boolean; gaps: number[]; codes: Uint8Array; gap: GapCode; count: number; last: number; tail: number[] } | undefined;
    const bitsOf = (x: NonNullable<typeof best>): number => x.gap.bits * x.count + x.tail.length * (before?.gap.bits ?? 0);
    for (const l of layouts) {
      const gaps: number[] = [];
      const codes = new Uint8Array(nzAt.length);
      let p = prev;
      let k = 0;
      for (let i = 0; i < l.data.length; i++) {
        if (l.data[i] === 0) continue;
        gaps.push(base + i - p);
        p = base + i;
        codes[k++] = l.data[i]! - 1;
      }
      let tail: number[] = [];
      if (before !== undefined && gaps.length > 0) {
        tail = encodeGaps([gaps[0]!], before.gap).slice(0, -1);
        for (const t of tail) gaps[0] = gaps[0]! + gapSteps(before.gap)[t]!; // skips are negative steps
      }
      const { code, count } = gaps.length === 0 ? { code: { bits: 1, entries: 1, skips: [1] }, count: 0 } : chooseGapCode(gaps);
      const cand = { swapped: l.swapped, gaps, codes, gap: code, count, last: p, tail };
      if (best === undefined || bitsOf(cand) < bitsOf(best)) best = cand;
    }
    if (before !== undefined && best!.tail.length > 0) {
      for (const t of best!.tail) before.gapCodes.push(t); // (no spread: a tail can be long)
      before.bytes = Math.ceil((before.gapCodes.length * before.gap.bits + before.nonzeros * bits) / 8) + before.codebook.length * (half ? 2 : 4);
    }
    const gapCodes = encodeGaps(best!.gaps, best!.gap);
    out.push({
      value: it.value,
      dims: [...it.dims],
      swapped: best!.swapped,
      gap: best!.gap,
      gapCodes,
      codes: best!.codes,
      codebook,
      half,
      maxAbsError,
      nonzeros: nzAt.length,
      decoded,
      bytes: Math.ceil((gapCodes.length * best!.gap.bits + nzAt.length * bits) / 8) + codebook.length * (half ? 2 : 4),
    });
    prev = best!.last;
    base += it.data.length;
  }
  return out;
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
    sizes.length === 1 ? [x] : opset >= 13 ? mk('Split', [x, i64(sizes)], { axis: attr.int(0) }, sizes.length) : mk('Split', [x], { axis: attr.int(0), split: attr.ints(sizes) }, sizes.length);

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
    const bitsU8 = mk1('Mod', [mk1('BitShift', [stream, init(new Tensor('uint8', [8], Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7])))], { direction: attr.string('RIGHT') }), init(new Tensor('uint8', [], Uint8Array.from([2])))]);
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
      const data = short ? init(new Tensor('int16', dims, Int16Array.from(t))) : idx === 'int32' ? init(new Tensor('int32', dims, Int32Array.from(t))) : init(new Tensor('int64', dims, BigInt64Array.from(t.map(BigInt))));
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
      const after = mk1('Greater', [mk1('Reshape', [at, i64([-1, 1])]), idx === 'int32' ? init(new Tensor('int32', [starts.length], Int32Array.from(starts))) : i64(starts)]);
      const casted = mk1('Cast', [after], { to: attr.int(7) });
      const ones = opset >= 13 ? mk1('ReduceSum', [casted, i64([1])], { keepdims: attr.int(1) }) : mk1('ReduceSum', [casted], { axes: attr.ints([1]), keepdims: attr.int(1) });
      index = mk1('Concat', [ones, index], { axis: attr.int(1) });
    }
    const books = coded[0]!.half ? mk1('Cast', [init(new Tensor('float16', dims, Uint16Array.from(flat, floatToHalf)))], { to: attr.int(1) }) : init(new Tensor('float32', dims, Float32Array.from(flat)));
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
