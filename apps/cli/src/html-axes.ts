// Axis ticks and number labels of the HTML reports' plots and tables.

/** A number for people: grouped integers, else 3 significant digits; never `NaN` (a dash for a missing value). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  return String(Number(v.toPrecision(a >= 1 ? 4 : 3)));
}

/** Tick values 1-2-5 times a power of ten covering [lo, hi], and the padded range they span. */
export function linearTicks(lo: number, hi: number, count = 6): { lo: number; hi: number; ticks: number[] } {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.05 : 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / count;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Number(v.toPrecision(12)));
  return { lo: first, hi: last, ticks };
}

/** Ticks of a log axis: every power of ten, with 2 and 5 between them within 3 decades (and 3 within 2). */
export function logTicks(lo: number, hi: number): { lo: number; hi: number; ticks: number[] } {
  const d0 = Math.floor(Math.log10(lo));
  const d1 = Math.ceil(Math.log10(hi));
  const mantissas = d1 - d0 <= 2 ? [1, 2, 3, 5] : d1 - d0 <= 3 ? [1, 2, 5] : [1];
  const all: number[] = [];
  for (let d = d0; d <= d1; d++) for (const m of mantissas) all.push(Number((m * 10 ** d).toPrecision(12)));
  const from = Math.max(...all.filter((t) => t <= lo));
  const to = Math.min(...all.filter((t) => t >= hi));
  return { lo: from, hi: to, ticks: all.filter((t) => t >= from && t <= to) };
}

/** Bytes with an SI unit: `50 kB`, `1.2 MB`. */
export function formatBytesSi(n: number): string {
  const [v, u] = n >= 1e9 ? [n / 1e9, 'GB'] : n >= 1e6 ? [n / 1e6, 'MB'] : n >= 1e3 ? [n / 1e3, 'kB'] : [n, 'B'];
  return `${Number(v.toPrecision(3))} ${u}`;
}
