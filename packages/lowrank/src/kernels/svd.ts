/**
 * Thin SVD of a dense f64 matrix, with its reconstruction error.
 *
 * Method: eigendecomposition of the Gram matrix of the short side (`AᵀA` when m ≥ n), then the long-side vectors as
 * `A·v / σ`. The Gram product is one blocked matmul and the eigensolver works on min(m, n)², so the 9216x128 Dense of
 * mnist_cnn costs one 128² eigenproblem. Squaring the condition number costs relative accuracy only in singular values
 * below ~1e-8·σ₁; the low-rank factors mc builds are `A·V_k` and `V_kᵀ` (no division by σ), which is the exact
 * orthogonal projection of A onto span(V_k), so truncations keep their optimal error and the full-rank product
 * reproduces A to ~1e-15 relative.
 */
import { eigh } from './eigh.js';
import type { MatmulEngine } from './engine.js';
import { transpose } from './matmul.js';
import { gram, product } from './products.js';

/** A thin SVD `A ≈ U·diag(s)·Vᵀ`, singular values in decreasing order. */
export interface SvdResult {
  /** rows of A */
  m: number;
  /** columns of A */
  n: number;
  /** number of singular triplets kept */
  rank: number;
  /** U, m x rank, row-major */
  u: Float64Array;
  /** singular values, length rank, decreasing */
  s: Float64Array;
  /** Vᵀ, rank x n, row-major */
  vt: Float64Array;
  /** ‖A − U·S·Vᵀ‖_F / ‖A‖_F estimated from the discarded spectrum (0 for a full SVD) */
  error: number;
  method: 'exact' | 'randomized';
}

/**
 * Exact thin SVD of the row-major m x n matrix `a`; keeps all min(m, n) triplets. `engine`: where the Gram matrix and
 * the long-side product run when they are large (see products.ts; the JS f64 matmul otherwise).
 * @example
 * const { u, s, vt } = svd(new Float64Array([3, 0, 0, 4]), 2, 2); // s = [4, 3]
 */
export function svd(a: Float64Array, m: number, n: number, engine?: MatmulEngine): SvdResult {
  const r = Math.min(m, n);
  if (m >= n) {
    // G = AᵀA (n x n): rows of Aᵀ are the columns of A.
    const at = transpose(a, m, n);
    const { values, vectors } = eigh(gram(at, n, m, engine), n); // vectors: row i = v_i
    const s = new Float64Array(r);
    for (let i = 0; i < r; i++) s[i] = Math.sqrt(Math.max(values[i]!, 0));
    // U·S = A·V with V = vectorsᵀ (n x n)
    const us = product(a, transpose(vectors, n, n), m, n, n, engine);
    const u = divideColumns(us, m, r, s);
    return { m, n, rank: r, u, s, vt: vectors, error: 0, method: 'exact' };
  }
  const { values, vectors } = eigh(gram(a, m, n, engine), m); // row i = u_i (length m)
  const s = new Float64Array(r);
  for (let i = 0; i < r; i++) s[i] = Math.sqrt(Math.max(values[i]!, 0));
  // (V·S)ᵀ = Uᵀ·A : r x n
  const vs = product(vectors, a, m, m, n, engine);
  const vt = new Float64Array(r * n);
  for (let i = 0; i < r; i++) {
    const inv = s[i]! > 0 ? 1 / s[i]! : 0;
    for (let j = 0; j < n; j++) vt[i * n + j] = vs[i * n + j]! * inv;
  }
  return { m, n, rank: r, u: transpose(vectors, m, m), s, vt, error: 0, method: 'exact' };
}

function divideColumns(x: Float64Array, m: number, r: number, s: Float64Array): Float64Array {
  const inv = new Float64Array(r);
  for (let j = 0; j < r; j++) inv[j] = s[j]! > 0 ? 1 / s[j]! : 0;
  for (let i = 0; i < m; i++) {
    const o = i * r;
    for (let j = 0; j < r; j++) x[o + j] = x[o + j]! * inv[j]!;
  }
  return x;
}

/**
 * Keeps the leading `k` triplets of `full` and sets `error` to the relative Frobenius error of that truncation
 * (√(Σ_{i≥k} σᵢ²) / √(Σ σᵢ²)), which the Eckart–Young theorem makes the optimum for rank k.
 * @example
 * const top = truncate(svd(a, m, n), 8);
 */
export function truncate(full: SvdResult, k: number): SvdResult {
  const kk = Math.max(0, Math.min(k, full.rank));
  const { m, n } = full;
  const u = new Float64Array(m * kk);
  for (let i = 0; i < m; i++) for (let j = 0; j < kk; j++) u[i * kk + j] = full.u[i * full.rank + j]!;
  return {
    m,
    n,
    rank: kk,
    u,
    s: full.s.slice(0, kk),
    vt: full.vt.slice(0, kk * n),
    error: tailError(full.s, kk),
    method: full.method,
  };
}

/** √(Σ_{i≥k} σᵢ²) / √(Σ σᵢ²); 0 for an all-zero spectrum. @internal */
export function tailError(s: Float64Array, k: number): number {
  let total = 0;
  let tail = 0;
  for (let i = 0; i < s.length; i++) {
    const v = s[i]! * s[i]!;
    total += v;
    if (i >= k) tail += v;
  }
  return total > 0 ? Math.sqrt(tail / total) : 0;
}
