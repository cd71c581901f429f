import type { Dim } from './types.js';

/**
 * Symbolic dimensions. A `Dim` string is a symbol ('batch', 'sequence_length') or an expression derived from symbols
 * by shape inference ('batch*sequence', 'past + sequence', '(batch*sequence)/3'). Expressions are kept as polynomials
 * with integer coefficients over atoms; an atom is a symbol or an inexact floor division. The text form is canonical,
 * so two equal expressions print the same and shape rules can compare dims with `===`.
 *
 * Grammar of the text form: `+` and `*` and `/` are operators, `-` only with spaces around it (' - '), so names such
 * as 'batch-size' stay one symbol; text that does not parse is one symbol. The empty string is an unknown dim.
 */

/** A monomial's key: its atoms' texts sorted and joined by '*'; '' for the constant term. */
type Poly = Map<string, number>;

/** Floor divisions that did not simplify, by their text. */
const DIVS = new Map<string, { num: Poly; den: Poly }>();

const isInt = (x: number): boolean => Number.isSafeInteger(x);

function polyConst(n: number): Poly {
  return n === 0 ? new Map() : new Map([['', n]]);
}

function polyAtom(name: string): Poly {
  return new Map([[name, 1]]);
}

function polyAdd(a: Poly, b: Poly, sign = 1): Poly {
  const out = new Map(a);
  for (const [k, c] of b) {
    const v = (out.get(k) ?? 0) + sign * c;
    if (v === 0) out.delete(k);
    else out.set(k, v);
  }
  return out;
}

const monoAtoms = (k: string): string[] => (k === '' ? [] : splitTop(k, '*'));
const monoKey = (atoms: string[]): string => [...atoms].sort().join('*');

function polyMul(a: Poly, b: Poly): Poly {
  let out: Poly = new Map();
  for (const [ka, ca] of a)
    for (const [kb, cb] of b) out = polyAdd(out, new Map([[monoKey([...monoAtoms(ka), ...monoAtoms(kb)]), ca * cb]]));
  return out;
}

/** Exact division by a single-term divisor, or undefined. */
function polyDivExact(a: Poly, b: Poly): Poly | undefined {
  if (b.size !== 1) return polyText(a) === polyText(b) && a.size > 0 ? polyConst(1) : undefined;
  const [[kb, cb]] = [...b] as [[string, number]];
  const out: Poly = new Map();
  for (const [ka, ca] of a) {
    if (ca % cb !== 0) return undefined;
    const rest = monoAtoms(ka);
    for (const atom of monoAtoms(kb)) {
      const i = rest.indexOf(atom);
      if (i < 0) return undefined;
      rest.splice(i, 1);
    }
    out.set(monoKey(rest), ca / cb);
  }
  return out;
}

/** Splits `s` at top-level (outside parentheses) occurrences of `sep`. */
function splitTop(s: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && s.startsWith(sep, i)) {
      out.push(s.slice(start, i));
      start = i + sep.length;
      i += sep.length - 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function polyText(p: Poly): string {
  if (p.size === 0) return '0';
  const terms = [...p].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0));
  let s = '';
  for (const [k, c] of terms) {
    const mag = Math.abs(c);
    const body = k === '' ? String(mag) : mag === 1 ? k : `${mag}*${k}`;
    s += s === '' ? (c < 0 ? `-${body}` : body) : c < 0 ? ` - ${body}` : ` + ${body}`;
  }
  return s;
}

/** One side of a division's text: a number or a lone symbol as is, anything else in parentheses. */
function divPart(p: Poly): string {
  const t = polyText(p);
  return /^\d+$/.test(t) || (p.size === 1 && p.get(t) === 1 && !/[*/ ]/.test(t)) ? t : `(${t})`;
}

function polyDiv(a: Poly, b: Poly): Poly | undefined {
  if (b.size === 0) return undefined;
  const exact = polyDivExact(a, b);
  if (exact !== undefined) return exact;
  if (a.size === 0) return new Map();
  const text = `${divPart(a)}/${divPart(b)}`;
  DIVS.set(text, { num: a, den: b });
  return polyAtom(text);
}

/** Parses a dim's text into a polynomial; unparsable text is one symbol. */
function parse(text: string): Poly {
  const t = text.trim();
  const sums = splitTop(t, ' + ').flatMap((s) => splitTop(s, ' - ').map((x, j) => ({ x: x.trim(), sign: j > 0 ? -1 : 1 })));
  if (sums.length > 1) {
    let p: Poly = new Map();
    for (const { x, sign } of sums) p = polyAdd(p, parse(x), sign);
    return p;
  }
  if (t.startsWith('-') && t.length > 1) return polyMul(polyConst(-1), parse(t.slice(1)));
  const products = splitTop(t, '*');
  if (products.length > 1) return products.map(parse).reduce((a, b) => polyMul(a, b));
  const divs = splitTop(t, '/');
  if (divs.length > 1 && divs.every((d) => d.length > 0)) {
    let p = parse(divs[0]!);
    for (const d of divs.slice(1)) p = polyDiv(p, parse(d)) ?? polyAtom(t);
    return p;
  }
  if (/^\d+$/.test(t)) return polyConst(Number(t));
  if (t.startsWith('(') && t.endsWith(')') && splitTop(t.slice(1, -1), ')').length === 1) return parse(t.slice(1, -1));
  return polyAtom(t);
}

function toPoly(d: Dim): Poly | undefined {
  if (d === null || d === '') return undefined;
  return typeof d === 'number' ? polyConst(d) : parse(d);
}

function toDim(p: Poly | undefined): Dim {
  if (p === undefined) return null;
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('')!;
  return polyText(p);
}

/**
 * Sum of dims: numbers add, symbols make an expression ('past + sequence'); unknown (null) when any is unknown.
 *
 * @example
 * ```ts
 * dimAdd('past', 'sequence'); // 'past + sequence'
 * ```
 */
export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const pa = toPoly(a);
  const pb = toPoly(b);
  return pa === undefined || pb === undefined ? null : toDim(polyAdd(pa, pb));
}

/** Difference of dims (see {@link dimAdd}). @example dimSub('a + 1', 1) // 'a' */
export function dimSub(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const pa = toPoly(a);
  const pb = toPoly(b);
  return pa === undefined || pb === undefined ? null : toDim(polyAdd(pa, pb, -1));
}

/** Product of dims. @example dimMul('batch', 'sequence') // 'batch*sequence' */
export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (a === 0 || b === 0) return 0;
  const pa = toPoly(a);
  const pb = toPoly(b);
  return pa === undefined || pb === undefined ? null : toDim(polyMul(pa, pb));
}

/**
 * Floor division of dims: exact where it simplifies ('batch*sequence*64' / 64 = 'batch*sequence'), else a division
 * atom evaluated later; unknown for a zero divisor.
 *
 * @example
 * ```ts
 * dimDiv('batch*sequence', 'batch'); // 'sequence'
 * ```
 */
export function dimDiv(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return b === 0 ? null : Math.floor(a / b);
  const pa = toPoly(a);
  const pb = toPoly(b);
  return pa === undefined || pb === undefined ? null : toDim(polyDiv(pa, pb));
}

/** Product of all dims (1 for none). @example dimProduct(['batch', 4, 16]) // '64*batch' */
export function dimProduct(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) p = dimMul(p, d);
  return p;
}

/** The symbols a dim depends on. @example dimSymbols('2*batch + past') // ['batch', 'past'] */
export function dimSymbols(d: Dim): string[] {
  const p = toPoly(d);
  if (p === undefined) return [];
  const out = new Set<string>();
  const visit = (q: Poly): void => {
    for (const k of q.keys()) {
      for (const atom of monoAtoms(k)) {
        const div = DIVS.get(atom);
        if (div !== undefined) {
          visit(div.num);
          visit(div.den);
        } else out.add(atom);
      }
    }
  };
  visit(p);
  return [...out].sort();
}

function evalPoly(p: Poly, sizes: ReadonlyMap<string, number>): number | undefined {
  let total = 0;
  for (const [k, c] of p) {
    let term = c;
    for (const atom of monoAtoms(k)) {
      const div = DIVS.get(atom);
      let v: number | undefined;
      if (div !== undefined) {
        const n = evalPoly(div.num, sizes);
        const dd = evalPoly(div.den, sizes);
        v = n === undefined || dd === undefined || dd === 0 ? undefined : Math.floor(n / dd);
      } else v = sizes.get(atom);
      if (v === undefined) return undefined;
      term *= v;
    }
    total += term;
  }
  return isInt(total) ? total : undefined;
}

/**
 * The size of a dim given sizes for its symbols, or undefined when a symbol has no size or the dim is unknown.
 *
 * @example
 * ```ts
 * evalDim('batch*sequence', new Map([['batch', 2], ['sequence', 128]])); // 256
 * ```
 */
export function evalDim(d: Dim, sizes: ReadonlyMap<string, number>): number | undefined {
  if (typeof d === 'number') return d;
  const p = toPoly(d);
  return p === undefined ? undefined : evalPoly(p, sizes);
}

/** The canonical text of a dim (numbers stay numbers). @example normalizeDim('sequence*batch') // 'batch*sequence' */
export function normalizeDim(d: Dim): Dim {
  return typeof d === 'string' ? toDim(toPoly(d)) : d;
}

/** True when the dims are provably equal (same number, or the same canonical expression). @internal */
export function dimEquals(a: Dim, b: Dim): boolean {
  if (a === null || b === null) return false;
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return false;
  return normalizeDim(a) === normalizeDim(b);
}
