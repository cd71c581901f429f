/**
 * Tucker-2 (HOSVD on the two channel modes) of a conv kernel W laid out [Cout, Cin, S] (S = product of the spatial
 * dims, ONNX OIHW flattened): W ≈ G ×₁ U_out ×₂ U_in with G = W ×₁ U_outᵀ ×₂ U_inᵀ (De Lathauwer et al. 2000;
 * Kim et al. 2016 use it for conv compression, and keras_compressor follows them).
 *
 * The factors are computed ONCE at full rank; the truncation at (Kin, Kout) is the leading Kout x Kin block of the
 * full core because U_kᵀ·W is the first k rows of Uᵀ·W. So every probe of a rank search costs one reconstruction
 * and no decomposition.
 */
import { eigh } from './eigh.js';
import type { MatmulEngine } from './engine.js';
import { matmul, transpose } from './matmul.js';
import { gram, product } from './products.js';

/**
 * A full-rank Tucker-2 decomposition from which any (kIn, kOut) truncation is read off. A mode whose unfolding has
 * fewer columns than rows (Cout > Cin·S, e.g. a 1x1 conv widening the channels, or Cin > Cout·S) has rank at most the
 * column count; only that many basis vectors are kept (`rankOut`/`rankIn`), since larger truncations of that mode
 * reconstruct the same kernel.
 */
export interface Tucker2 {
  cout: number;
  cin: number;
  /** spatial size (kh·kw for 2-D, k for 1-D) */
  spatial: number;
  /** columns kept in `uOut` (= Cout unless Cout > Cin·S) */
  rankOut: number;
  /** columns kept in `uIn` (= Cin unless Cin > Cout·S) */
  rankIn: number;
  /** U_out, Cout x rankOut, column a = a-th output-mode singular vector (row-major) */
  uOut: Float64Array;
  /** U_in, Cin x rankIn, column b = b-th input-mode singular vector (row-major) */
  uIn: Float64Array;
  /** squared mode singular values (eigenvalues of the mode Gram matrices), decreasing, length Cout / Cin (zero-padded) */
  energyOut: Float64Array;
  energyIn: Float64Array;
  /** full core G [rankOut, rankIn, S] in the rotated bases */
  core: Float64Array;
  method: 'exact';
}

/**
 * HOSVD of the two channel modes of `w` ([Cout, Cin, S] row-major). `engine`: where large products run (products.ts).
 * @example
 * const t = tucker2(w, 64, 32, 9); const wHat = reconstruct(t, 8, 16);
 */
export function tucker2(w: Float64Array, cout: number, cin: number, spatial: number, engine?: MatmulEngine): Tucker2 {
  // Mode-out unfolding is W itself as Cout x (Cin·S); mode-in unfolding: Cin x (Cout·S), row i = W[:, i, :].
  const bo = modeBasis(w, cout, cin * spatial, engine);
  const win = permute01(w, cout, cin, spatial);
  const bi = modeBasis(win, cin, cout * spatial, engine);
  const rOut = bo.rank;
  const rIn = bi.rank;
  // G = U_outᵀ·W (rOut x Cin·S); then U_inᵀ on the mode-in unfolding of that, as one product (Cin x rOut·S).
  const t1 = product(transpose(bo.u, cout, rOut), w, rOut, cout, cin * spatial, engine);
  const gIn = product(transpose(bi.u, cin, rIn), permute01(t1, rOut, cin, spatial), rIn, cin, rOut * spatial, engine);
  const core = permute01(gIn, rIn, rOut, spatial);
  return {
    cout,
    cin,
    spatial,
    rankOut: rOut,
    rankIn: rIn,
    uOut: bo.u,
    uIn: bi.u,
    energyOut: bo.energy,
    energyIn: bi.energy,
    core,
    method: 'exact',
  };
}

/** [A, B, S] → [B, A, S]. @internal */
export function permute01(x: Float64Array, a: number, b: number, s: number): Float64Array {
  const out = new Float64Array(a * b * s);
  if (s === 1) return transpose(x, a, b);
  for (let i = 0; i < a; i++)
    for (let j = 0; j < b; j++) {
      const src = (i * b + j) * s;
      const dst = (j * a + i) * s;
      for (let k = 0; k < s; k++) out[dst + k] = x[src + k];
    }
  return out;
}

/**
 * Left singular basis of the m x n unfolding `a`: eigenvectors of A·Aᵀ when m ≤ n, else A·v/σ from the eigenvectors of
 * the smaller AᵀA (only the columns with σ above 1e-9·σ₁: the rest carry no energy and would not be orthonormal).
 */
function modeBasis(a: Float64Array, m: number, n: number, engine?: MatmulEngine): { u: Float64Array; rank: number; energy: Float64Array } {
  const energy = new Float64Array(m);
  if (m <= n) {
    const e = eigh(gram(a, m, n, engine), m);
    for (let i = 0; i < m; i++) energy[i] = Math.max(e.values[i], 0);
    return { u: transpose(e.vectors, m, m), rank: m, energy };
  }
  const e = eigh(gram(transpose(a, m, n), n, m, engine), n); // row j = v_j (length n)
  const top = Math.max(e.values[0], 0);
  let r = 0;
  while (r < n && e.values[r] > top * 1e-18 && e.values[r] > 0) r++;
  r = Math.max(r, 1);
  for (let i = 0; i < r; i++) energy[i] = Math.max(e.values[i], 0);
  const av = product(a, transpose(e.vectors.subarray(0, r * n), r, n), m, n, r, engine); // m x r = A·V_r
  for (let j = 0; j < r; j++) {
    const inv = e.values[j] > 0 ? 1 / Math.sqrt(e.values[j]) : 0;
    for (let i = 0; i < m; i++) av[i * r + j] *= inv;
  }
  return { u: av, rank: r, energy };
}

/** The truncated factors at (kIn, kOut): U_in [Cin, kIn], core [kOut, kIn, S], U_out [Cout, kOut]. */
export interface Tucker2Factors {
  kIn: number;
  kOut: number;
  uIn: Float64Array;
  core: Float64Array;
  uOut: Float64Array;
}

/** Leading-block truncation of a full Tucker-2 (zero-padded past a mode's rank). @example const f = truncateTucker(t, 8, 16); */
export function truncateTucker(t: Tucker2, kIn: number, kOut: number): Tucker2Factors {
  const { cin, cout } = t;
  const uIn = leadingColumns(t.uIn, cin, t.rankIn, kIn);
  const uOut = leadingColumns(t.uOut, cout, t.rankOut, kOut);
  return { kIn, kOut, uIn, core: coreBlock(t, kIn, kOut), uOut };
}

/** G[:kOut, :kIn, :] as [kOut, kIn, S], zero past the ranks. @internal */
export function coreBlock(t: Tucker2, kIn: number, kOut: number): Float64Array {
  const { spatial, rankIn } = t;
  const core = new Float64Array(kOut * kIn * spatial);
  const rows = Math.min(kOut, t.rankOut);
  const cols = Math.min(kIn, rankIn) * spatial;
  for (let a = 0; a < rows; a++) core.set(t.core.subarray(a * rankIn * spatial, a * rankIn * spatial + cols), a * kIn * spatial);
  return core;
}

/** Ŵ at (kIn, kOut) as [Cout, Cin, S]. @example const wHat = reconstruct(t, 8, 16); */
export function reconstruct(t: Tucker2, kIn: number, kOut: number): Float64Array {
  const { cin, cout, spatial } = t;
  const kI = Math.min(kIn, t.rankIn);
  const kO = Math.min(kOut, t.rankOut);
  // P = G[:kO, :kI] ×₂ U_in,k as one product on the mode-in unfolding (Cin x kO·S), then Ŵ = U_out,k · P.
  const g = permute01(coreBlock(t, kI, kO), kO, kI, spatial); // [kI, kO, S]
  const p = permute01(matmul(leadingColumns(t.uIn, cin, t.rankIn, kI), g, cin, kI, kO * spatial), cin, kO, spatial);
  return matmul(leadingColumns(t.uOut, cout, t.rankOut, kO), p, cout, kO, cin * spatial);
}

/** The first k columns of a rows x cols matrix, zero columns past `cols`. @internal */
export function leadingColumns(a: Float64Array, rows: number, cols: number, k: number): Float64Array {
  if (k === cols) return a;
  const out = new Float64Array(rows * k);
  const c = Math.min(k, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < c; j++) out[i * k + j] = a[i * cols + j];
  return out;
}

/**
 * The factors to emit at (kIn, kOut): `first` = U_in,kᵀ [kIn, Cin] and `last` = U_out,k [Cout, kOut], each omitted when
 * that mode keeps full rank (the core then stays in the original basis of that mode), and the core
 * W ×₁ U_out,kᵀ ×₂ U_in,kᵀ: the leading block of the full core when both modes are truncated (U_kᵀ·W is the first k
 * rows of Uᵀ·W), else computed from W.
 * @example const f = emitFactors(w, tucker2(w, 64, 32, 9), 8, 16);
 */
export function emitFactors(
  w: Float64Array,
  t: Tucker2,
  kIn: number,
  kOut: number,
  engine?: MatmulEngine,
): { first?: Float64Array; core: Float64Array; last?: Float64Array } {
  const { cin, cout, spatial } = t;
  const last = kOut < cout ? leadingColumns(t.uOut, cout, t.rankOut, kOut) : undefined;
  const first = kIn < cin ? transpose(leadingColumns(t.uIn, cin, t.rankIn, kIn), cin, kIn) : undefined; // kIn x Cin
  let core: Float64Array;
  if (first !== undefined && last !== undefined) core = coreBlock(t, kIn, kOut);
  else if (last !== undefined) core = product(transpose(last, cout, kOut), w, kOut, cout, cin * spatial, engine);
  else if (first !== undefined) {
    // U_in,kᵀ on the mode-in unfolding (Cin x Cout·S), back to [Cout, kIn, S].
    core = permute01(product(first, permute01(w, cout, cin, spatial), kIn, cin, cout * spatial, engine), kIn, cout, spatial);
  } else core = Float64Array.from(w);
  return { ...(first !== undefined && { first }), core, ...(last !== undefined && { last }) };
}
