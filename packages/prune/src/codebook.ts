import { floatToHalf, halfToFloat, kmeans1d, type Value } from '@mc/ir';

// Codebook storage of pruned weights, the coding half: which gap code and layout each tensor gets and the codes of
// its nonzeros. codebook-decoder.ts turns the coded tensors into the stored stream and its ONNX decoder.

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
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++) out.set(data.subarray((i * b + j) * inner, (i * b + j + 1) * inner), (j * a + i) * inner);
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
    const km = kmeans1d(vals, 2 ** bits, { init: 'linear', maxIterations: 40 });
    return { nzAt, vals, codebook: km.centroids, codeOf: km.indices };
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
    let best:
      | { swapped: boolean; gaps: number[]; codes: Uint8Array; gap: GapCode; count: number; last: number; tail: number[] }
      | undefined;
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
      before.bytes =
        Math.ceil((before.gapCodes.length * before.gap.bits + before.nonzeros * bits) / 8) + before.codebook.length * (half ? 2 : 4);
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
