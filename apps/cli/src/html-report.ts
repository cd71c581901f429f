import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Candidate } from '@mc/pipeline';
import { formatBytesSi, formatValue, linearTicks, logTicks } from './html-axes.js';

/** What a report page can show. */
export interface HtmlReportData {
  title: string;
  /** Before/after rows: [label, before, after]; numeric cells get thousands separators and a change column. */
  summary?: [string, string, string][];
  /** Per-layer (or per-step) values to plot as bars (ranks, sparsity, bits) and list in a table. */
  layers?: { name: string; value: number; detail: string }[];
  /** What the bars measure, with its unit in brackets, e.g. `parameters kept (%)`. */
  layerMetric?: string;
  /** What one bar is: a layer of the model (default) or a step of a recipe. */
  layerKind?: 'layer' | 'step';
  optimize?: {
    seen: Candidate[];
    pareto: Candidate[];
    baseline: Candidate;
    best: Candidate | null;
    objective: string;
    /** The accuracy budget in points: drawn as a line at the input's accuracy minus it. */
    maxAccuracyDrop?: number;
    target?: unknown;
    stoppedBy?: string;
    /** Accuracy of the input and the chosen model on the test split (0..1). */
    test?: { before: number; after: number; drop: number; samples: number };
  };
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export { formatBytesSi, formatValue, linearTicks, logTicks } from './html-axes.js';

/** Estimated width of a label in the report's sans-serif font (generous, so that boxes never clip). */
// DejaVu Sans digits are 0.636 em wide, capitals up to 0.77 em; 0.7 em per character keeps short tags clear.
const textWidth = (s: string, size: number): number => s.length * size * 0.7;

/** One point of a scatter plot. `kind` picks its mark and legend entry; `tag` is the short label drawn beside it. */
export interface ScatterPoint {
  x: number;
  y: number;
  label: string;
  tag?: string;
  kind?: 'baseline' | 'within' | 'over' | 'chosen';
}

/** Options of {@link scatterSvg}. */
export interface ScatterOptions {
  xLabel: string;
  yLabel: string;
  /** Formats an x tick (with its unit). */
  xFormat?: (v: number) => string;
  /** A horizontal dashed line (the accuracy budget) and its legend text. */
  hLine?: { y: number; label: string };
  /** Points joined by a line (the Pareto front), by index into the points. */
  front?: number[];
  /** Legend text per point kind; kinds absent from the points are left out. */
  legend?: Partial<Record<NonNullable<ScatterPoint['kind']>, string>>;
}

const MARK: Record<NonNullable<ScatterPoint['kind']>, (x: number, y: number) => string> = {
  baseline: (x, y) => `<rect x="${(x - 5).toFixed(1)}" y="${(y - 5).toFixed(1)}" width="10" height="10" fill="#777"/>`,
  within: (x, y) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4.5" fill="#2b6cc4"/>`,
  over: (x, y) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4.5" fill="#fff" stroke="#c0392b" stroke-width="1.5"/>`,
  chosen: (x, y) =>
    `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="8" fill="none" stroke="#0a8a3a" stroke-width="2.5"/><circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4" fill="#0a8a3a"/>`,
};

type Box = { x0: number; y0: number; x1: number; y1: number };
const overlaps = (a: Box, b: Box): boolean => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

/**
 * An SVG scatter plot: x log-scaled when it spans more than 10x, 1-2-5 ticks with units on both axes, every point
 * tagged (tags that would collide are left to the point's tooltip), a legend below the plot and an optional
 * horizontal line. Everything is drawn inside the SVG's box.
 */
export function scatterSvg(points: ScatterPoint[], o: ScatterOptions): string {
  const pts = points.filter((p) => p.x > 0 && Number.isFinite(p.x) && Number.isFinite(p.y));
  if (pts.length === 0) return '<p>No candidate had a finite size and accuracy to plot.</p>';
  const W = 760;
  const m = { l: 70, r: 28, t: 20, b: 64 };
  const plotH = 340;
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y).concat(o.hLine === undefined ? [] : [o.hLine.y]);
  const logX = Math.max(...xs) / Math.min(...xs) > 10;
  // The ranges reach a little past the data, so that no mark sits on the frame; ticks are drawn inside them.
  const within = (t: { lo: number; hi: number; ticks: number[] }, lo: number, hi: number): { lo: number; hi: number; ticks: number[] } => ({
    lo,
    hi,
    ticks: t.ticks.filter((v) => v >= lo - 1e-9 && v <= hi + 1e-9),
  });
  const [xMin, xMax, yMin, yMax] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const xt = logX ? within(logTicks(xMin / 1.12, xMax * 1.12), xMin / 1.12, xMax * 1.12) : linearTicks(xMin * 0.95, xMax * 1.05);
  const yTicks = linearTicks(yMin, yMax);
  const yPad = 0.04 * (yTicks.hi - yTicks.lo);
  const yt = within(yTicks, Math.min(yTicks.lo, yMin - yPad), Math.max(yTicks.hi, yMax + yPad));
  const fx = (v: number): number => (logX ? Math.log10(v) : v);
  const sx = (v: number): number => m.l + ((fx(v) - fx(xt.lo)) / (fx(xt.hi) - fx(xt.lo) || 1)) * (W - m.l - m.r);
  const sy = (v: number): number => m.t + plotH - ((v - yt.lo) / (yt.hi - yt.lo || 1)) * plotH;
  const bottom = m.t + plotH;
  const xFormat = o.xFormat ?? formatValue;
  const parts: string[] = [];
  // Grid, ticks and tick labels; an x label is dropped when it would touch its left neighbour.
  let lastRight = -Infinity;
  for (const t of xt.ticks) {
    const x = sx(t);
    parts.push(
      `<line x1="${x.toFixed(1)}" y1="${m.t}" x2="${x.toFixed(1)}" y2="${bottom}" stroke="#eee"/><line x1="${x.toFixed(1)}" y1="${bottom}" x2="${x.toFixed(1)}" y2="${bottom + 5}" stroke="#444"/>`,
    );
    const s = xFormat(t);
    const w = textWidth(s, 11);
    if (x - w / 2 > lastRight + 4) {
      const anchorX = Math.min(W - 2 - w / 2, Math.max(2 + w / 2, x));
      parts.push(`<text class="tick" x="${anchorX.toFixed(1)}" y="${bottom + 18}" text-anchor="middle" font-size="11">${esc(s)}</text>`);
      lastRight = anchorX + w / 2;
    }
  }
  for (const t of yt.ticks) {
    const y = sy(t);
    parts.push(
      `<line x1="${m.l}" y1="${y.toFixed(1)}" x2="${W - m.r}" y2="${y.toFixed(1)}" stroke="#eee"/><line x1="${m.l - 5}" y1="${y.toFixed(1)}" x2="${m.l}" y2="${y.toFixed(1)}" stroke="#444"/><text class="tick" x="${m.l - 8}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${esc(formatValue(t))}</text>`,
    );
  }
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${plotH}" fill="none" stroke="#444"/>`);
  parts.push(
    `<text x="${(m.l + W - m.r) / 2}" y="${bottom + 38}" text-anchor="middle">${esc(o.xLabel)}${logX ? ' — log scale' : ''}</text>`,
  );
  parts.push(
    `<text x="16" y="${m.t + plotH / 2}" transform="rotate(-90 16 ${m.t + plotH / 2})" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  if (o.hLine !== undefined) {
    const y = sy(o.hLine.y).toFixed(1);
    parts.push(`<line x1="${m.l}" y1="${y}" x2="${W - m.r}" y2="${y}" stroke="#d68000" stroke-width="1.5" stroke-dasharray="6 4"/>`);
  }
  if (o.front !== undefined && o.front.length > 1) {
    const f = o.front
      .map((i) => points[i]!)
      .filter((p) => pts.includes(p))
      .sort((a, b) => a.x - b.x);
    parts.push(
      `<polyline points="${f.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}" fill="none" stroke="#7aa7e0" stroke-width="1.5"/>`,
    );
  }
  // Marks, then tags: the chosen point and the input first, each tag beside its point where it overlaps nothing.
  const placed: Box[] = pts.map((p) => ({ x0: sx(p.x) - 4, y0: sy(p.y) - 4, x1: sx(p.x) + 4, y1: sy(p.y) + 4 }));
  const order = [...pts].sort(
    (a, b) => Number(b.kind === 'chosen' || b.kind === 'baseline') - Number(a.kind === 'chosen' || a.kind === 'baseline'),
  );
  const tags: string[] = [];
  for (const p of order) {
    if (p.tag === undefined) continue;
    // h: the rendered box of 10.5 px text (ascent + descent ≈ 1.17 em), plus a pixel of air
    const [x, y, w, h, r] = [sx(p.x), sy(p.y), textWidth(p.tag, 10.5) + 1, 14, p.kind === 'chosen' ? 10 : 7];
    const spots: Box[] = [
      { x0: x + r, y0: y - h / 2, x1: x + r + w, y1: y + h / 2 },
      { x0: x - r - w, y0: y - h / 2, x1: x - r, y1: y + h / 2 },
      { x0: x - w / 2, y0: y - r - h, x1: x + w / 2, y1: y - r },
      { x0: x - w / 2, y0: y + r, x1: x + w / 2, y1: y + r + h },
    ];
    const spot = spots.find(
      (b) => b.x0 >= m.l + 1 && b.x1 <= W - m.r - 1 && b.y0 >= m.t + 1 && b.y1 <= bottom - 1 && !placed.some((q) => overlaps(b, q)),
    );
    if (spot === undefined) continue;
    placed.push(spot);
    tags.push(
      `<text class="tag" x="${spot.x0.toFixed(1)}" y="${(spot.y1 - 3.5).toFixed(1)}" font-size="10.5" fill="#333">${esc(p.tag)}</text>`,
    );
  }
  const marks = pts.map(
    (p) =>
      `<g>${MARK[p.kind ?? 'within'](sx(p.x), sy(p.y))}<title>${esc(`${p.tag === undefined ? '' : `#${p.tag} `}${p.label}: ${xFormat(p.x)}, ${formatValue(p.y)}`)}</title></g>`,
  );
  // Legend rows below the x axis title, wrapped to the width.
  const entries: [string, string][] = [];
  for (const k of ['baseline', 'within', 'over', 'chosen'] as const) {
    const text = o.legend?.[k];
    if (text !== undefined && pts.some((p) => (p.kind ?? 'within') === k)) entries.push([MARK[k](7, -4), text]);
  }
  if (o.front !== undefined && o.front.length > 1)
    entries.push(['<line x1="0" y1="-4" x2="14" y2="-4" stroke="#7aa7e0" stroke-width="1.5"/>', 'Pareto front']);
  if (o.hLine !== undefined)
    entries.push(['<line x1="0" y1="-4" x2="14" y2="-4" stroke="#d68000" stroke-width="1.5" stroke-dasharray="4 3"/>', o.hLine.label]);
  const legend: string[] = [];
  let [lx, ly] = [m.l, bottom + 64];
  for (const [mark, text] of entries) {
    const w = 22 + textWidth(text, 12) + 18;
    if (lx + w > W - 4 && lx > m.l) [lx, ly] = [m.l, ly + 20];
    legend.push(`<g class="legend" transform="translate(${lx.toFixed(1)} ${ly})">${mark}<text x="20" y="0">${esc(text)}</text></g>`);
    lx += w;
  }
  const H = ly + 12;
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(`${o.yLabel} against ${o.xLabel}`)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">${parts.join('')}${marks.join('')}${tags.join('')}${legend.join('')}</svg>`;
}

/** An SVG horizontal bar chart with a value axis (ticks, title with unit) and each bar's value at its end. */
export function barsSvg(items: { name: string; value: number }[], label: string): string {
  if (items.length === 0) return '';
  const W = 760;
  const row = 20;
  const nameW = 190;
  const valueW = 90;
  const top = 6;
  const vals = items.map((i) => (Number.isFinite(i.value) ? i.value : 0));
  const t = linearTicks(0, Math.max(...vals, 1e-12), 5);
  const x0 = nameW + 6;
  const span = W - valueW - x0;
  const sx = (v: number): number => x0 + (v / (t.hi || 1)) * span;
  const plotBottom = top + items.length * row;
  const maxChars = Math.floor((nameW - 8) / (12 * 0.62));
  const parts: string[] = [];
  for (const tick of t.ticks) {
    const x = sx(tick).toFixed(1);
    parts.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${plotBottom + 4}" stroke="${tick === 0 ? '#444' : '#eee'}"/><text class="tick" x="${x}" y="${plotBottom + 17}" text-anchor="middle" font-size="11">${esc(formatValue(tick))}</text>`,
    );
  }
  items.forEach((it, i) => {
    const y = top + i * row;
    const name = it.name.length > maxChars ? `${it.name.slice(0, maxChars - 1)}…` : it.name;
    const w = Number.isFinite(it.value) ? sx(it.value) - x0 : 0;
    parts.push(
      `<g><title>${esc(`${it.name}: ${formatValue(it.value)}`)}</title><text x="${nameW}" y="${y + 14}" text-anchor="end">${esc(name)}</text><rect x="${x0}" y="${y + 3}" width="${Math.max(1, w).toFixed(1)}" height="${row - 6}" fill="#2b6cc4"/><text x="${(x0 + w + 4).toFixed(1)}" y="${y + 14}">${esc(formatValue(it.value))}</text></g>`,
    );
  });
  parts.push(`<text x="${x0 + span / 2}" y="${plotBottom + 36}" text-anchor="middle">${esc(label)}</text>`);
  const H = plotBottom + 46;
  return `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(label)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">${parts.join('')}</svg>`;
}

/** A table whose text columns (the first `textCols`, or those listed) are left-aligned and the rest, numbers, right-aligned. */
function table(header: string[], rows: string[][], textCols: number | number[] = 1): string {
  const cls = (i: number): string => ((typeof textCols === 'number' ? i < textCols : textCols.includes(i)) ? ' class="t"' : '');
  return `<div class="wide"><table><thead><tr>${header.map((h, i) => `<th${cls(i)}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table></div>`;
}

const SUMMARY_LABELS: Record<string, string> = {
  params: 'parameters',
  bytes: 'file size (bytes)',
  gzipBytes: 'gzipped file (bytes)',
  macs: 'multiply-accumulates (MACs)',
};

function summaryTable(rows: [string, string, string][]): string {
  return table(
    ['', 'before', 'after', 'change'],
    rows.map(([label, b, a]) => {
      const [nb, na] = [Number(b), Number(a)];
      const numeric = b.trim() !== '' && a.trim() !== '' && Number.isFinite(nb) && Number.isFinite(na);
      const change = numeric && nb !== 0 ? `${na >= nb ? '+' : '−'}${Math.abs(((na - nb) / nb) * 100).toFixed(1)} %` : '';
      const cell = (text: string, n: number): string => (numeric ? formatValue(n) : /^[+-]?(NaN|Infinity)$/.test(text.trim()) ? '–' : text);
      return [SUMMARY_LABELS[label] ?? label, cell(b, nb), cell(a, na), change];
    }),
  );
}

function optimizeSection(o: NonNullable<HtmlReportData['optimize']>): string[] {
  const latency = o.objective === 'latency';
  const all = [o.baseline, ...o.seen.filter((c) => c !== o.baseline)];
  // Candidates are matched by label too, so that a summary read back from --json renders the same.
  const num = (c: Candidate): number => all.findIndex((a) => a === c || a.label === c.label);
  const best = o.best === null ? undefined : all[num(o.best)];
  const xOf = (c: Candidate): number => (latency ? c.measurement.latencyMs : c.measurement.bytes);
  const base = o.baseline.measurement.accuracy * 100;
  const inBudget = (c: Candidate): boolean => (o.maxAccuracyDrop === undefined ? c.feasible : c.drop <= o.maxAccuracyDrop);
  const kindOf = (c: Candidate): NonNullable<ScatterPoint['kind']> =>
    c === best ? 'chosen' : c === o.baseline ? 'baseline' : inBudget(c) ? 'within' : 'over';
  const parts: string[] = [];
  const facts: string[] = [`objective: smallest ${latency ? 'latency' : 'file size'}`];
  if (o.maxAccuracyDrop !== undefined) facts.push(`budget: at most ${formatValue(o.maxAccuracyDrop)} points of accuracy lost`);
  facts.push(o.best === null ? 'no candidate was chosen' : `chosen: #${num(o.best)} ${o.best.label}`);
  if (o.test !== undefined)
    facts.push(`test split (${o.test.samples} images): ${(o.test.before * 100).toFixed(2)} % → ${(o.test.after * 100).toFixed(2)} % top-1`);
  if (o.stoppedBy === 'time') facts.push('the search stopped at its time budget');
  parts.push(`<ul class="facts">${facts.map((f) => `<li>${esc(f)}</li>`).join('')}</ul>`);
  parts.push(`<h2>${latency ? 'Latency' : 'File size'} against accuracy</h2>`);
  parts.push(`<p class="note">Each point is a candidate measured on the search data, tagged with its number in the table below.</p>`);
  parts.push(
    scatterSvg(
      all.map((c, i) => ({ x: xOf(c), y: c.measurement.accuracy * 100, label: c.label, tag: String(i), kind: kindOf(c) })),
      {
        xLabel: latency ? 'latency per inference (ms)' : 'file size (1 kB = 1000 bytes)',
        yLabel: 'top-1 accuracy on the search data (%)',
        ...(!latency && { xFormat: formatBytesSi }),
        ...(o.maxAccuracyDrop !== undefined && {
          hLine: {
            y: base - o.maxAccuracyDrop,
            label: `budget: input − ${formatValue(o.maxAccuracyDrop)} pt = ${formatValue(base - o.maxAccuracyDrop)} %`,
          },
        }),
        front: o.pareto.map(num).filter((i) => i >= 0),
        legend: {
          baseline: 'input (#0)',
          within: 'within budget',
          over: 'over budget',
          ...(o.best !== null && { chosen: `chosen (#${num(o.best)}): ${o.best.label}` }),
        },
      },
    ),
  );
  const cells = (c: Candidate): string[] => [
    String(num(c)),
    c.label,
    formatValue(c.measurement.bytes),
    Number.isFinite(c.measurement.latencyMs) ? c.measurement.latencyMs.toFixed(3) : '–',
    (c.measurement.accuracy * 100).toFixed(2),
    c.drop.toFixed(2),
  ];
  parts.push(
    '<h2>Pareto front</h2>',
    table(['#', 'candidate', 'bytes', 'latency (ms)', 'accuracy (%)', 'drop (pt)'], o.pareto.map(cells), 2),
  );
  parts.push(
    '<h2>Every candidate</h2>',
    table(
      [
        '#',
        'candidate',
        'bytes',
        'gzipped bytes',
        'parameters',
        'MACs',
        'accuracy (%)',
        'drop (pt)',
        'within budget',
        `${latency ? 'faster' : 'smaller'} and within`,
      ],
      all.map((c) => [
        String(num(c)),
        c.label,
        formatValue(c.measurement.bytes),
        formatValue(c.measurement.gzipBytes),
        formatValue(c.measurement.params),
        formatValue(c.measurement.macs),
        (c.measurement.accuracy * 100).toFixed(2),
        c.drop.toFixed(2),
        inBudget(c) ? 'yes' : 'no',
        c === o.baseline ? '–' : c.feasible ? 'yes' : 'no',
      ]),
      2,
    ),
  );
  return parts;
}

/** The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network). */
export function renderHtmlReport(d: HtmlReportData): string {
  const parts: string[] = [`<h1>${esc(d.title)}</h1>`, `<p class="when">${new Date().toISOString()}</p>`];
  if (d.summary !== undefined) parts.push('<h2>Before and after</h2>', summaryTable(d.summary));
  if (d.optimize !== undefined) parts.push(...optimizeSection(d.optimize));
  if (d.layers !== undefined && d.layers.length > 0) {
    const metric = d.layerMetric ?? 'value';
    const kind = d.layerKind ?? 'layer';
    parts.push(
      `<h2>${kind === 'step' ? 'Per step' : 'Per layer'}: ${esc(metric)}</h2>`,
      barsSvg(d.layers, metric),
      table(
        [kind, metric, 'detail'],
        d.layers.map((l) => [l.name, formatValue(l.value), l.detail]),
        [0, 2],
      ),
    );
  }
  const css =
    'body{font:14px/1.45 "DejaVu Sans",system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}svg{max-width:100%;height:auto}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}.t{text-align:left}.t+.t{min-width:11rem}.wide{overflow-x:auto}.when,.note{color:#777}.facts{padding-left:1.2rem}';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title><style>${css}</style></head><body>${parts.join('\n')}</body></html>\n`;
}

/** Writes the report atomically (temp file in the same folder, then rename). */
export async function writeHtmlReport(file: string, d: HtmlReportData): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, renderHtmlReport(d));
  await rename(tmp, file);
}
