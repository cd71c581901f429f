/**
 * The residual R = W − Ŵ(x, y) of a Tucker-2 truncation, moved between rank pairs by updates instead of rebuilt.
 *
 * Ŵ(x, y) = Σ_{a<y, b<x} u_out,a ⊗ u_in,b ⊗ G[a, b, :] (the leading block of the full core, see tucker2.ts). Going
 * from x to x+1 adds one term per kept output row, (U_out,y·G[:y, x, :]) ⊗ u_in,x, and going from y to y−1 removes
 * u_out,y−1 ⊗ (U_in,x·G[y−1, :x, :]): both are rank-1 updates of R costing one pass over the N = Cout·Cin·S weights,
 * and the L1 norm keras_compressor's error needs (Σ|R| / Σ|W|) is read in the same pass. A jump of several ranks is a
 * block update by two matrix products. So a rank search pays N per probe, not a reconstruction (N·(x+y)) per probe.
 * @internal
 */
import type { MatmulEngine } from './engine.js';
import { product } from './products.js';
import { coreBlock, leadingColumns, permute01, type Tucker2 } from './tucker2.js';

/** @internal */
export class TuckerResidual {
  /** W − Ŵ(x, y), [Cout, Cin, S] */
  readonly r: Float64Array;
  /** current effective ranks (x ≤ rankIn, y ≤ rankOut) */
  x: number;
  y: number;
  /** Σ|R| */
  l1: number;
  /** Σ|W| */
  readonly den: number;
  /** number of error reads (rank-1 steps and jumps) */
  probes = 0;

  /** `from: 'zero'` starts at Ŵ = 0 (R = W); `'full'` at (rankIn, rankOut), where Ŵ = W up to rounding (R = 0). */
  constructor(
    readonly w: Float64Array,
    readonly t: Tucker2,
    from: 'zero' | 'full' = 'zero',
    readonly engine?: MatmulEngine,
  ) {
    let den = 0;
    for (let i = 0; i < w.length; i++) den += Math.abs(w[i]);
    this.den = den;
    if (from === 'zero') {
      this.r = Float64Array.from(w);
      this.x = 0;
      this.y = 0;
      this.l1 = den;
    } else {
      this.r = new Float64Array(w.length);
      this.x = t.rankIn;
      this.y = t.rankOut;
      this.l1 = 0;
    }
  }

  /** Σ|W − Ŵ| / Σ|W| at the current pair. */
  error(): number {
    return this.den > 0 ? this.l1 / this.den : this.l1 > 0 ? Infinity : 0;
  }

  /** x → x+1 (`sign` 1) or x → x−1 (`sign` −1): add or remove input column b = x or x−1 at the kept rows. */
  stepIn(sign: 1 | -1): void {
    const { cout, cin, spatial: S, rankIn: rI, rankOut: rO, uIn, uOut, core } = this.t;
    const b = sign > 0 ? this.x : this.x - 1;
    const y = this.y;
    // t[o, s] = Σ_{a<y} U_out[o, a]·G[a, b, s]
    const g = new Float64Array(y * S);
    for (let a = 0; a < y; a++) for (let s = 0; s < S; s++) g[a * S + s] = core[(a * rI + b) * S + s];
    const tv = new Float64Array(cout * S);
    for (let o = 0; o < cout; o++) {
      const uo = o * rO;
      for (let a = 0; a < y; a++) {
        const c = uOut[uo + a];
        if (c === 0) continue;
        for (let s = 0; s < S; s++) tv[o * S + s] += c * g[a * S + s];
      }
    }
    const ui = new Float64Array(cin);
    for (let i = 0; i < cin; i++) ui[i] = sign * uIn[i * rI + b];
    this.l1 = y === 0 ? this.l1 : rank1Update(this.r, tv, ui, cout, cin, S, false);
    this.x += sign;
    this.probes++;
  }

  /** y → y−1 (`sign` −1) or y → y+1 (`sign` 1): remove or add output row a = y−1 or y at the kept columns. */
  stepOut(sign: 1 | -1): void {
    const { cout, cin, spatial: S, rankIn: rI, rankOut: rO, uIn, uOut, core } = this.t;
    const a = sign > 0 ? this.y : this.y - 1;
    const x = this.x;
    // q[i, s] = Σ_{b<x} U_in[i, b]·G[a, b, s]
    const q = new Float64Array(cin * S);
    const g0 = a * rI * S;
    for (let i = 0; i < cin; i++) {
      const ub = i * rI;
      for (let b = 0; b < x; b++) {
        const c = uIn[ub + b];
        if (c === 0) continue;
        const gb = g0 + b * S;
        for (let s = 0; s < S; s++) q[i * S + s] += c * core[gb + s];
      }
    }
    const uo = new Float64Array(cout);
    for (let o = 0; o < cout; o++) uo[o] = sign * uOut[o * rO + a];
    this.l1 = x === 0 ? this.l1 : rank1Update(this.r, uo, q, cout, 1, cin * S, true);
    this.y += sign;
    this.probes++;
  }

  /** Moves to (x, y) (effective ranks), by rank-1 steps for neighbours and block products for jumps. */
  moveTo(x: number, y: number): void {
    const { rankIn, rankOut } = this.t;
    if (x < 0 || y < 0 || x > rankIn || y > rankOut) throw new RangeError(`ranks (${x}, ${y}) outside [0, ${rankIn}] x [0, ${rankOut}]`);
    if (x === this.x && y === this.y) return;
    // Shrinking y first makes the x-update cheaper (its first product is over the kept rows), and vice versa.
    if (y < this.y) {
      this.moveOut(y);
      this.moveIn(x);
    } else {
      this.moveIn(x);
      this.moveOut(y);
    }
  }

  private moveIn(x: number): void {
    const d = x - this.x;
    if (d === 0) return;
    if (Math.abs(d) === 1) {
      this.stepIn(d > 0 ? 1 : -1);
      return;
    }
    const { cout, cin, spatial: S, rankIn: rI, rankOut: rO } = this.t;
    const x0 = Math.min(x, this.x);
    const n = Math.abs(d);
    const y = this.y;
    if (y > 0) {
      // T = U_out,y · G[:y, x0:x0+n, :]  (Cout x n·S), then U_in[:, x0:x0+n] on its mode-in unfolding.
      const g = new Float64Array(y * n * S);
      for (let a = 0; a < y; a++) g.set(this.t.core.subarray((a * rI + x0) * S, (a * rI + x0 + n) * S), a * n * S);
      const tm = product(leadingColumns(this.t.uOut, cout, rO, y), g, cout, y, n * S, this.engine);
      const ub = new Float64Array(cin * n);
      for (let i = 0; i < cin; i++) for (let b = 0; b < n; b++) ub[i * n + b] = this.t.uIn[i * rI + x0 + b];
      const m = product(ub, permute01(tm, cout, n, S), cin, n, cout * S, this.engine); // [Cin, Cout, S]
      this.addPermuted(m, d > 0 ? -1 : 1);
    }
    this.x = x;
    this.probes++;
  }

  private moveOut(y: number): void {
    const d = y - this.y;
    if (d === 0) return;
    if (Math.abs(d) === 1) {
      this.stepOut(d > 0 ? 1 : -1);
      return;
    }
    const { cout, cin, spatial: S, rankOut: rO } = this.t;
    const y0 = Math.min(y, this.y);
    const n = Math.abs(d);
    const x = this.x;
    if (x > 0) {
      // Q = G[y0:y0+n, :x, :] ×₂ U_in,x as [n, Cin, S], then ΔŴ = U_out[:, y0:y0+n] · Q.
      const blk = coreBlock(this.t, x, y0 + n).subarray(y0 * x * S); // [n, x, S]
      const p = product(leadingColumns(this.t.uIn, cin, this.t.rankIn, x), permute01(blk, n, x, S), cin, x, n * S, this.engine);
      const q = permute01(p, cin, n, S);
      const uo = new Float64Array(cout * n);
      const sign = d > 0 ? -1 : 1; // adding rows to Ŵ subtracts from R
      for (let o = 0; o < cout; o++) for (let a = 0; a < n; a++) uo[o * n + a] = sign * this.t.uOut[o * rO + y0 + a];
      const delta = product(uo, q, cout, n, cin * S, this.engine);
      let l1 = 0;
      const r = this.r;
      for (let i = 0; i < r.length; i++) {
        const v = r[i] + delta[i];
        r[i] = v;
        l1 += Math.abs(v);
      }
      this.l1 = l1;
    }
    this.y = y;
    this.probes++;
  }

  /** R[o, i, s] += sign·M[i, o, s], with the L1 norm. */
  private addPermuted(m: Float64Array, sign: number): void {
    const { cout, cin, spatial: S } = this.t;
    const r = this.r;
    let l1 = 0;
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < cin; i++) {
        const ro = (o * cin + i) * S;
        const mo = (i * cout + o) * S;
        for (let s = 0; s < S; s++) {
          const v = r[ro + s] + sign * m[mo + s];
          r[ro + s] = v;
          l1 += Math.abs(v);
        }
      }
    this.l1 = l1;
  }
}

/**
 * A rank-1 update of R [na, nb, s] with its L1 norm read in the same pass. `aOuter` true: R[o, j] −= a[o]·b[j] with j
 * over nb·s (call with nb = 1, s = Cin·S); false: R[o, i, q] −= a[o, q]·b[i]. Returns Σ|R|.
 */
function rank1Update(r: Float64Array, a: Float64Array, b: Float64Array, na: number, nb: number, s: number, aOuter: boolean): number {
  let e0 = 0;
  let e1 = 0;
  if (aOuter) {
    // R[o, j] −= a[o]·b[j], j over Cin·S
    const len = s;
    for (let o = 0; o < na; o++) {
      const c = a[o];
      const off = o * len;
      let j = 0;
      for (; j + 1 < len; j += 2) {
        const v0 = r[off + j] - c * b[j];
        const v1 = r[off + j + 1] - c * b[j + 1];
        r[off + j] = v0;
        r[off + j + 1] = v1;
        e0 += Math.abs(v0);
        e1 += Math.abs(v1);
      }
      if (j < len) {
        const v = r[off + j] - c * b[j];
        r[off + j] = v;
        e0 += Math.abs(v);
      }
    }
    return e0 + e1;
  }
  // R[o, i, q] −= a[o, q]·b[i]
  for (let o = 0; o < na; o++) {
    const ao = o * s;
    for (let i = 0; i < nb; i++) {
      const c = b[i];
      const off = (o * nb + i) * s;
      for (let q = 0; q < s; q++) {
        const v = r[off + q] - c * a[ao + q];
        r[off + q] = v;
        e0 += Math.abs(v);
      }
    }
  }
  return e0 + e1;
}
