import { attr, type Attribute, type Graph, Node, Tensor, type Value } from '@mc/ir';

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
  for (let i = 0; i < n; i++) maxAbsError = Math.max(maxAbsError, Math.abs(values[i]! - c[codes[i]!]!));
  return { centroids: Float32Array.from(c), codes, maxAbsError };
}

/** A codebook stream: gaps between entry positions and the codebook index of each entry (index 0 is exactly 0). */
export interface CodebookStream {
  gapBits: 4 | 8;
  codeBits: 4 | 8;
  gaps: Uint8Array;
  codes: Uint8Array;
  codebook: Float32Array;
  maxAbsError: number;
  /** Entries (nonzeros plus gap fillers). */
  count: number;
}

function stream(data: Float32Array, codeOf: (i: number) => number, maxGap: number): { gaps: number[]; codes: number[] } {
  const gaps: number[] = [];
  const codes: number[] = [];
  let prev = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    let d = i - prev;
    while (d > maxGap) {
      gaps.push(maxGap);
      codes.push(0); // a filler entry writes the exact zero of code 0 at a position that is zero anyway
      d -= maxGap;
    }
    gaps.push(d);
    codes.push(codeOf(i));
    prev = i;
  }
  return { gaps, codes };
}

/** Packs b-bit values (b = 4 or 8), low nibble first. */
function pack(xs: readonly number[], bits: 4 | 8): Uint8Array {
  if (bits === 8) return Uint8Array.from(xs);
  const out = new Uint8Array(Math.ceil(xs.length / 2));
  for (let i = 0; i < xs.length; i++) out[i >> 1]! |= (xs[i]! & 15) << ((i & 1) * 4);
  return out;
}

/**
 * Encodes the nonzeros of `data` with a (2^bits − 1)-entry k-means codebook plus an exact zero, choosing 4- or 8-bit
 * gaps per tensor, whichever is smaller. @internal
 */
export function toCodebook(data: Float32Array, bits: number): CodebookStream {
  const nz: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nz.push(i);
  const vals = Float32Array.from(nz, (i) => data[i]!);
  const km = kmeans1d(vals, 2 ** bits - 1);
  const codeAt = new Map<number, number>();
  nz.forEach((pos, j) => codeAt.set(pos, km.codes[j]! + 1));
  const codeBits: 4 | 8 = bits <= 4 ? 4 : 8;
  let best: CodebookStream | undefined;
  for (const gapBits of [4, 8] as const) {
    const s = stream(data, (i) => codeAt.get(i)!, gapBits === 4 ? 15 : 255);
    const cand: CodebookStream = { gapBits, codeBits, gaps: pack(s.gaps, gapBits), codes: pack(s.codes, codeBits), codebook: Float32Array.from([0, ...km.centroids]), maxAbsError: km.maxAbsError, count: s.gaps.length };
    if (best === undefined || cand.gaps.length + cand.codes.length < best.gaps.length + best.codes.length) best = cand;
  }
  return best!;
}

/** Stored bytes of a codebook stream (plus the decoder's small constants). @internal */
export function codebookBytes(s: CodebookStream): number {
  return s.gaps.length + s.codes.length + s.codebook.length * 4 + 64;
}

/**
 * Replaces initializer `v` by the decoder of a codebook stream, inserted before its first user:
 * unpack(gaps) → Cast int32 → CumSum = positions; unpack(codes) → Cast int32 → Gather(codebook) = values;
 * Reshape(ScatterElements(ConstantOfShape([size], 0), positions, values), dims). Nibbles are unpacked with
 * Unsqueeze → BitShift(RIGHT, [0, 4]) → Mod 16 → Reshape → Slice. All inputs are constant: onnxruntime folds the chain at
 * session creation. @internal
 */
export function emitCodebook(graph: Graph, v: Value, dims: readonly number[], s: CodebookStream): Value {
  const count = s.count;
  const users = v.uses();
  const first = graph.nodes.find((n) => users.some((u) => u.node === n))!;
  const base = v.name;
  let step = 0;
  const init = (name: string, t: Tensor): Value => graph.addInitializer(graph.uniqueName(`${base}/${name}`), t);
  const i64 = (name: string, xs: readonly number[]): Value => init(name, new Tensor('int64', [xs.length], BigInt64Array.from(xs.map(BigInt))));
  const mk = (opType: string, inputs: Value[], attributes: Record<string, Attribute> = {}): Value => {
    // Short names: in a pruned file the decoder's names are a noticeable share of the bytes.
    const node = new Node({ opType, inputs, outputs: [graph.uniqueName(`${base}/${step++}`)], attributes });
    graph.insertBefore(first, node);
    return node.outputs[0]!;
  };
  const unpack = (name: string, bytes: Uint8Array, bits: 4 | 8): Value => {
    let x = init(name, new Tensor('uint8', [bytes.length], bytes));
    if (bits === 4) {
      x = mk('Unsqueeze', [x, i64(`${name}a`, [1])]);
      x = mk('BitShift', [x, init(`${name}s`, new Tensor('uint8', [2], Uint8Array.from([0, 4])))], { direction: attr.string('RIGHT') });
      x = mk('Mod', [x, init(`${name}m`, new Tensor('uint8', [1], Uint8Array.from([16])))]);
      x = mk('Reshape', [x, i64(`${name}f`, [-1])]);
      if (bytes.length * 2 !== count) x = mk('Slice', [x, i64(`${name}0`, [0]), i64(`${name}1`, [count])]);
    }
    return mk('Cast', [x], { to: attr.int(6) });
  };
  const pos = mk('CumSum', [unpack('g', s.gaps, s.gapBits), init('a', new Tensor('int32', [], Int32Array.from([0])))]);
  const values = mk('Gather', [init('cb', new Tensor('float32', [s.codebook.length], s.codebook)), unpack('c', s.codes, s.codeBits)], { axis: attr.int(0) });
  const size = dims.reduce((a, b) => a * b, 1);
  const zeros = mk('ConstantOfShape', [i64('n', [size])], { value: attr.tensor(new Tensor('float32', [1], new Float32Array([0]))) });
  const dense = mk('Reshape', [mk('ScatterElements', [zeros, pos, values], { axis: attr.int(0) }), i64('d', dims)]);
  dense.dtype = 'float32';
  dense.shape = [...dims];
  v.replaceAllUsesWith(dense);
  graph.removeInitializer(v.name);
  return dense;
}

