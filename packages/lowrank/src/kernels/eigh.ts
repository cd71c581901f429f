/**
 * Symmetric eigendecomposition: Householder tridiagonalisation followed by the implicit QL algorithm with Wilkinson
 * shifts (EISPACK tred2/tql2, as in JAMA), written for row-major `Float64Array`s.
 *
 * The working matrix is stored transposed (`vt[j*n + i]` holds V[i][j]) so that every O(n³) inner loop of both
 * phases walks contiguous memory: tred2 updates columns of V and tql2 rotates pairs of columns.
 * @internal
 */

/** Eigenpairs sorted by decreasing eigenvalue; `vectors` holds eigenvector i in row i (n x n). @internal */
export interface EighResult {
  values: Float64Array;
  vectors: Float64Array;
}

/** Eigendecomposition of the symmetric n x n matrix `a` (only read, never changed). @internal */
export function eigh(a: Float64Array, n: number): EighResult {
  const vt = new Float64Array(n * n);
  // V = A; vt[j*n+i] = V[i][j] = A[i][j] = A[j][i] (symmetric), so a plain copy works.
  vt.set(a.subarray(0, n * n));
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tred2(vt, d, e, n);
  tql2(vt, d, e, n);
  // Sort descending; eigenvector j is column j of V = row j of vt.
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y]! - d[x]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let r = 0; r < n; r++) {
    const j = order[r]!;
    values[r] = d[j]!;
    vectors.set(vt.subarray(j * n, j * n + n), r * n);
  }
  return { values, vectors };
}

function tred2(vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  // V(i, j) := vt[j*n + i]
  for (let j = 0; j < n; j++) d[j] = vt[j * n + (n - 1)]!;
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]!);
    if (scale === 0) {
      e[i] = d[i - 1]!;
      for (let j = 0; j < i; j++) {
        d[j] = vt[j * n + (i - 1)]!;
        vt[j * n + i] = 0;
        vt[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] = d[k]! / scale;
        h += d[k]! * d[k]!;
      }
      let f = d[i - 1]!;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        vt[i * n + j] = f; // V[j][i] = f
        const col = j * n; // column j of V
        g = e[j]! + vt[col + j]! * f;
        for (let k = j + 1; k < i; k++) {
          const vkj = vt[col + k]!;
          g += vkj * d[k]!;
          e[k] = e[k]! + vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] = e[j]! / h;
        f += e[j]! * d[j]!;
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] = e[j]! - hh * d[j]!;
      for (let j = 0; j < i; j++) {
        f = d[j]!;
        g = e[j]!;
        const col = j * n;
        for (let k = j; k < i; k++) vt[col + k] = vt[col + k]! - (f * e[k]! + g * d[k]!);
        d[j] = vt[col + (i - 1)]!;
        vt[col + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    vt[i * n + (n - 1)] = vt[i * n + i]!; // V[n-1][i] = V[i][i]
    vt[i * n + i] = 1;
    const h = d[i + 1]!;
    const ci1 = (i + 1) * n; // column i+1
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = vt[ci1 + k]! / h;
      for (let j = 0; j <= i; j++) {
        const cj = j * n;
        let g = 0;
        for (let k = 0; k <= i; k++) g += vt[ci1 + k]! * vt[cj + k]!;
        for (let k = 0; k <= i; k++) vt[cj + k] = vt[cj + k]! - g * d[k]!;
      }
    }
    for (let k = 0; k <= i; k++) vt[ci1 + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = vt[j * n + (n - 1)]!;
    vt[j * n + (n - 1)] = 0;
  }
  vt[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

function tql2(vt: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]!) + Math.abs(e[l]!));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]!) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        iter++;
        let g = d[l]!;
        let p = (d[l + 1]! - g) / (2 * e[l]!);
        let r = Math.sqrt(p * p + 1);
        if (p < 0) r = -r;
        d[l] = e[l]! / (p + r);
        d[l + 1] = e[l]! * (p + r);
        const dl1 = d[l + 1]!;
        let h = g - d[l]!;
        for (let i = l + 2; i < n; i++) d[i] = d[i]! - h;
        f += h;
        p = d[m]!;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1]!;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i]!;
          h = c * p;
          r = hypot(p, e[i]!);
          e[i + 1] = s * r;
          s = e[i]! / r;
          c = p / r;
          p = c * d[i]! - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]!);
          // Rotate columns i and i+1 of V (rows of vt): contiguous.
          const ri = i * n;
          const ri1 = ri + n;
          for (let k = 0; k < n; k++) {
            const hk = vt[ri1 + k]!;
            const vk = vt[ri + k]!;
            vt[ri1 + k] = s * vk + c * hk;
            vt[ri + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]!) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (iter > 60) break; // never seen in practice; guards against NaN input looping forever
      } while (Math.abs(e[l]!) > eps * tst1);
    }
    d[l] = d[l]! + f;
    e[l] = 0;
  }
}

function hypot(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x > y) {
    const t = y / x;
    return x * Math.sqrt(1 + t * t);
  }
  if (y === 0) return 0;
  const t = x / y;
  return y * Math.sqrt(1 + t * t);
}
