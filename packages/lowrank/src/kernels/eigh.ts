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
      // Two columns per pass: the Householder vector and d are loaded once for both.
      let j = 0;
      for (; j + 1 <= i; j += 2) {
        const c0 = j * n;
        const c1 = c0 + n;
        let g0 = 0;
        let g1 = 0;
        for (let k = 0; k <= i; k++) {
          const u = vt[ci1 + k]!;
          g0 += u * vt[c0 + k]!;
          g1 += u * vt[c1 + k]!;
        }
        for (let k = 0; k <= i; k++) {
          const dk = d[k]!;
          vt[c0 + k] = vt[c0 + k]! - g0 * dk;
          vt[c1 + k] = vt[c1 + k]! - g1 * dk;
        }
      }
      for (; j <= i; j++) {
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
  const cs = new Float64Array(n);
  const sn = new Float64Array(n);
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
          cs[i] = c;
          sn[i] = s;
        }
        rotate(vt, cs, sn, l, m, n);
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

/**
 * Applies one QL sweep's rotations to V: for i = m−1 down to l, columns (i, i+1) of V (rows of vt) turn by (c_i, s_i).
 * The rotations depend only on d and e, so they are recorded during the sweep and applied here three at a time: the
 * chain i+1 → i → i−1 → i−2 keeps the shared column in a register, 4 loads and 4 stores per element instead of 6 and 6.
 */
function rotate(vt: Float64Array, cs: Float64Array, sn: Float64Array, l: number, m: number, n: number): void {
  let i = m - 1;
  for (; i - 2 >= l; i -= 3) {
    const c0 = cs[i]!,
      s0 = sn[i]!,
      c1 = cs[i - 1]!,
      s1 = sn[i - 1]!,
      c2 = cs[i - 2]!,
      s2 = sn[i - 2]!;
    const r3 = (i + 1) * n,
      r2 = i * n,
      r1 = r2 - n,
      r0 = r1 - n;
    for (let k = 0; k < n; k++) {
      const h = vt[r3 + k]!;
      const v = vt[r2 + k]!;
      vt[r3 + k] = s0 * v + c0 * h;
      const t = c0 * v - s0 * h; // column i after rotation i
      const v1 = vt[r1 + k]!;
      vt[r2 + k] = s1 * v1 + c1 * t;
      const t1 = c1 * v1 - s1 * t;
      const v2 = vt[r0 + k]!;
      vt[r1 + k] = s2 * v2 + c2 * t1;
      vt[r0 + k] = c2 * v2 - s2 * t1;
    }
  }
  for (; i >= l; i--) {
    const c = cs[i]!,
      s = sn[i]!;
    const ri = i * n;
    const ri1 = ri + n;
    for (let k = 0; k < n; k++) {
      const hk = vt[ri1 + k]!;
      const vk = vt[ri + k]!;
      vt[ri1 + k] = s * vk + c * hk;
      vt[ri + k] = c * vk - s * hk;
    }
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
