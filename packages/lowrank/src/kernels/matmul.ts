/**
 * Dense f64 matrix products on row-major `Float64Array`s.
 *
 * No BLAS exists for JS here; this is a cache-blocked product with a 4x4 register tile, which V8 compiles to
 * scalar SSE code (~1.5-3 GFLOP/s). All shapes are explicit (`m`, `k`, `n`) so callers can use sub-blocks of
 * larger buffers without copies.
 * @internal
 */

const KB = 256; // k-panel: 4 rows of B panel x 256 stay in L1/L2

/** C (m x n) = A (m x k) · B (k x n). @internal */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  matmulInto(c, a, b, m, k, n);
  return c;
}

/** C += A · B, all row-major. @internal */
export function matmulInto(c: Float64Array, a: Float64Array, b: Float64Array, m: number, k: number, n: number): void {
  for (let k0 = 0; k0 < k; k0 += KB) {
    const k1 = Math.min(k, k0 + KB);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const a0 = i * k,
        a1 = a0 + k,
        a2 = a1 + k,
        a3 = a2 + k;
      const c0 = i * n,
        c1 = c0 + n,
        c2 = c1 + n,
        c3 = c2 + n;
      let j = 0;
      for (; j + 4 <= n; j += 4) {
        let s00 = 0,
          s01 = 0,
          s02 = 0,
          s03 = 0,
          s10 = 0,
          s11 = 0,
          s12 = 0,
          s13 = 0;
        let s20 = 0,
          s21 = 0,
          s22 = 0,
          s23 = 0,
          s30 = 0,
          s31 = 0,
          s32 = 0,
          s33 = 0;
        for (let p = k0; p < k1; p++) {
          const bp = p * n + j;
          const b0 = b[bp]!,
            b1 = b[bp + 1]!,
            b2 = b[bp + 2]!,
            b3 = b[bp + 3]!;
          const x0 = a[a0 + p]!,
            x1 = a[a1 + p]!,
            x2 = a[a2 + p]!,
            x3 = a[a3 + p]!;
          s00 += x0 * b0;
          s01 += x0 * b1;
          s02 += x0 * b2;
          s03 += x0 * b3;
          s10 += x1 * b0;
          s11 += x1 * b1;
          s12 += x1 * b2;
          s13 += x1 * b3;
          s20 += x2 * b0;
          s21 += x2 * b1;
          s22 += x2 * b2;
          s23 += x2 * b3;
          s30 += x3 * b0;
          s31 += x3 * b1;
          s32 += x3 * b2;
          s33 += x3 * b3;
        }
        c[c0 + j] += s00;
        c[c0 + j + 1] += s01;
        c[c0 + j + 2] += s02;
        c[c0 + j + 3] += s03;
        c[c1 + j] += s10;
        c[c1 + j + 1] += s11;
        c[c1 + j + 2] += s12;
        c[c1 + j + 3] += s13;
        c[c2 + j] += s20;
        c[c2 + j + 1] += s21;
        c[c2 + j + 2] += s22;
        c[c2 + j + 3] += s23;
        c[c3 + j] += s30;
        c[c3 + j + 1] += s31;
        c[c3 + j + 2] += s32;
        c[c3 + j + 3] += s33;
      }
      for (; j < n; j++) {
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        for (let p = k0; p < k1; p++) {
          const bv = b[p * n + j]!;
          s0 += a[a0 + p]! * bv;
          s1 += a[a1 + p]! * bv;
          s2 += a[a2 + p]! * bv;
          s3 += a[a3 + p]! * bv;
        }
        c[c0 + j] += s0;
        c[c1 + j] += s1;
        c[c2 + j] += s2;
        c[c3 + j] += s3;
      }
    }
    for (; i < m; i++) {
      const ai = i * k,
        ci = i * n;
      for (let p = k0; p < k1; p++) {
        const x = a[ai + p]!;
        if (x === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) c[ci + j] += x * b[bp + j]!;
      }
    }
  }
}

/** Transpose of a row-major m x n matrix. @internal */
export function transpose(a: Float64Array, m: number, n: number): Float64Array {
  const t = new Float64Array(m * n);
  const B = 32;
  for (let i0 = 0; i0 < m; i0 += B) {
    const i1 = Math.min(m, i0 + B);
    for (let j0 = 0; j0 < n; j0 += B) {
      const j1 = Math.min(n, j0 + B);
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) t[j * m + i] = a[i * n + j]!;
    }
  }
  return t;
}

/** C (k x n) = Aᵀ · B with A (m x k), B (m x n). @internal */
export function matmulTN(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  return matmul(transpose(a, m, k), b, k, m, n);
}

/** C (m x n) = A · Bᵀ with A (m x k), B (n x k). @internal */
export function matmulNT(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  return matmul(a, transpose(b, n, k), m, k, n);
}

/**
 * Gram matrix G = A·Aᵀ (m x m) of a row-major m x n matrix, using symmetry (rows are contiguous, so each entry is a
 * dot product of two contiguous rows; 2x2 tiles reuse loads).
 * @internal
 */
export function gramRows(a: Float64Array, m: number, n: number): Float64Array {
  const g = new Float64Array(m * m);
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const ai = i * n,
      bi = ai + n;
    let j = 0;
    for (; j + 2 <= i + 2; j += 2) {
      const aj = j * n,
        bj = aj + n;
      let s00 = 0,
        s01 = 0,
        s10 = 0,
        s11 = 0;
      for (let p = 0; p < n; p++) {
        const x0 = a[ai + p]!,
          x1 = a[bi + p]!,
          y0 = a[aj + p]!,
          y1 = a[bj + p]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      g[i * m + j] = s00;
      g[i * m + j + 1] = s01;
      g[(i + 1) * m + j] = s10;
      g[(i + 1) * m + j + 1] = s11;
    }
  }
  for (; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      const ai = i * n,
        aj = j * n;
      for (let p = 0; p < n; p++) s += a[ai + p]! * a[aj + p]!;
      g[i * m + j] = s;
    }
  }
  for (let r = 0; r < m; r++) for (let c = r + 1; c < m; c++) g[r * m + c] = g[c * m + r]!;
  return g;
}
