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
import { gramRows, matmul, transpose } from './matmul.js';

/** A full-rank Tucker-2 decomposition from which any (kIn, kOut) truncation is read off. */
export interface Tucker2 {
  cout: number;
  cin: number;
  /** spatial size (kh·kw for 2-D, k for 1-D) */
  spatial: number;
  /** U_out, Cout x Cout, column a = a-th output-mode singular vector (row-major) */
  uOut: Float64Array;
  /** U_in, Cin x Cin, column b = b-th input-mode singular vector (row-major) */
  uIn: Float64Array;
  /** squared mode singular values (eigenvalues of the mode Gram matrices), decreasing */
  energyOut: Float64Array;
  energyIn: Float64Array;
  /** full core G [Cout, Cin, S] in the rotated bases */
  core: Float64Array;
  method: 'exact';
}

/**
 * HOSVD of the two channel modes of `w` ([Cout, Cin, S] row-major).
 * @example
 * const t = tucker2(w, 64, 32, 9); const wHat = reconstruct(t, 8, 16);
 */
export function tucker2(w: Float64Array, cout: number, cin: number, spatial: number): Tucker2 {
  // Mode-out unfolding is W itself as Cout x (Cin·S).
  const eo = eigh(gramRows(w, cout, cin * spatial), cout);
  // Mode-in unfolding: Cin x (Cout·S), row i = W[:, i, :].
  const win = new Float64Array(cin * cout * spatial);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let s = 0; s < spatial; s++) win[(i * cout + o) * spatial + s] = w[(o * cin + i) * spatial + s]!;
  const ei = eigh(gramRows(win, cin, cout * spatial), cin);
  const uOut = transpose(eo.vectors, cout, cout); // eigenvectors were rows
  const uIn = transpose(ei.vectors, cin, cin);
  // G = U_outᵀ·W (Cout x Cin·S), then per output slice: U_inᵀ·G[a] (Cin x S).
  const t1 = matmul(eo.vectors, w, cout, cout, cin * spatial);
  const core = new Float64Array(cout * cin * spatial);
  for (let a = 0; a < cout; a++) {
    const slice = t1.subarray(a * cin * spatial, (a + 1) * cin * spatial);
    core.set(matmul(ei.vectors, slice, cin, cin, spatial), a * cin * spatial);
  }
  const clamp = (v: Float64Array) => v.map((x) => Math.max(x, 0));
  return {
    cout, cin, spatial, uOut, uIn, energyOut: clamp(eo.values), energyIn: clamp(ei.values), core, method: 'exact',
  };
}

/** The truncated factors at (kIn, kOut): U_in [Cin, kIn], core [kOut, kIn, S], U_out [Cout, kOut]. */
export interface Tucker2Factors {
  kIn: number;
  kOut: number;
  uIn: Float64Array;
  core: Float64Array;
  uOut: Float64Array;
}

/** Leading-block truncation of a full Tucker-2. @example const f = truncateTucker(t, 8, 16); */
export function truncateTucker(t: Tucker2, kIn: number, kOut: number): Tucker2Factors {
  const { cin, cout, spatial } = t;
  const uIn = leadingColumns(t.uIn, cin, cin, kIn);
  const uOut = leadingColumns(t.uOut, cout, cout, kOut);
  const core = new Float64Array(kOut * kIn * spatial);
  for (let a = 0; a < kOut; a++)
    for (let b = 0; b < kIn; b++)
      for (let s = 0; s < spatial; s++) core[(a * kIn + b) * spatial + s] = t.core[(a * cin + b) * spatial + s]!;
  return { kIn, kOut, uIn, core, uOut };
}

/** Ŵ at (kIn, kOut) as [Cout, Cin, S]. @example const wHat = reconstruct(t, 8, 16); */
export function reconstruct(t: Tucker2, kIn: number, kOut: number): Float64Array {
  const { cin, cout, spatial } = t;
  const uInK = leadingColumns(t.uIn, cin, cin, kIn); // Cin x kIn
  // P[a] = U_in,k · G[a, :kIn, :] : Cin x S, for a < kOut
  const p = new Float64Array(kOut * cin * spatial);
  for (let a = 0; a < kOut; a++) {
    const g = t.core.subarray(a * cin * spatial, a * cin * spatial + kIn * spatial);
    p.set(matmul(uInK, g, cin, kIn, spatial), a * cin * spatial);
  }
  return matmul(leadingColumns(t.uOut, cout, cout, kOut), p, cout, kOut, cin * spatial);
}

function leadingColumns(a: Float64Array, rows: number, cols: number, k: number): Float64Array {
  if (k === cols) return a;
  const out = new Float64Array(rows * k);
  for (let i = 0; i < rows; i++) for (let j = 0; j < k; j++) out[i * k + j] = a[i * cols + j]!;
  return out;
}

/**
 * The factors to emit at (kIn, kOut): `first` = U_in,kᵀ [kIn, Cin] and `last` = U_out,k [Cout, kOut], each omitted when
 * that mode keeps full rank (the core then stays in the original basis of that mode), and the core
 * W ×₁ U_out,kᵀ ×₂ U_in,kᵀ computed from W.
 * @example const f = emitFactors(w, tucker2(w, 64, 32, 9), 8, 16);
 */
export function emitFactors(
  w: Float64Array, t: Tucker2, kIn: number, kOut: number,
): { first?: Float64Array; core: Float64Array; last?: Float64Array } {
  const { cin, cout, spatial } = t;
  let core = w;
  let rowsOut = cout;
  let last: Float64Array | undefined;
  let first: Float64Array | undefined;
  if (kOut < cout) {
    last = leadingColumns(t.uOut, cout, cout, kOut);
    core = matmul(transpose(last, cout, kOut), w, kOut, cout, cin * spatial);
    rowsOut = kOut;
  }
  if (kIn < cin) {
    const uInK = leadingColumns(t.uIn, cin, cin, kIn);
    first = transpose(uInK, cin, kIn); // kIn x Cin
    const c2 = new Float64Array(rowsOut * kIn * spatial);
    for (let a = 0; a < rowsOut; a++) {
      c2.set(matmul(first, core.subarray(a * cin * spatial, (a + 1) * cin * spatial), kIn, cin, spatial), a * kIn * spatial);
    }
    core = c2;
  }
  return { ...(first !== undefined && { first }), core: core === w ? Float64Array.from(w) : core, ...(last !== undefined && { last }) };
}
