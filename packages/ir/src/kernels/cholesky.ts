// Cholesky factorisation of a small dense symmetric matrix: one implementation for @mc/lowrank (CholeskyQR of a
// randomized sketch) and @mc/quantize (GPTQ's inverse Hessian); it lives in @mc/ir, the one package both depend on.

/**
 * In-place lower Cholesky factor L of a symmetric positive-definite k×k row-major matrix (A = L·Lᵀ; the upper part is
 * zeroed). Returns false, leaving `a` partly overwritten, when a pivot is not positive or not above `relPivot` times
 * the matrix's own diagonal entry (a numerically rank-deficient matrix).
 *
 * @example
 * ```ts
 * const a = Float64Array.from([4, 2, 2, 3]);
 * choleskyLower(a, 2); // true; a = [2, 0, 1, 1.414…]
 * ```
 */
export function choleskyLower(a: Float64Array, k: number, relPivot = 0): boolean {
  for (let j = 0; j < k; j++) {
    const ajj = a[j * k + j]!;
    let s = ajj;
    for (let p = 0; p < j; p++) s -= a[j * k + p]! * a[j * k + p]!;
    if (!(s > relPivot * ajj) || !(s > 0)) return false;
    const d = Math.sqrt(s);
    a[j * k + j] = d;
    for (let i = j + 1; i < k; i++) {
      let t = a[i * k + j]!;
      for (let p = 0; p < j; p++) t -= a[i * k + p]! * a[j * k + p]!;
      a[i * k + j] = t / d;
    }
    for (let p = j + 1; p < k; p++) a[j * k + p] = 0;
  }
  return true;
}
