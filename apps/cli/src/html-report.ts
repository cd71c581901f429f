import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Candidate } from '@mc/pipeline';

/** What a report page can show. */
export interface HtmlReportData {
  title: string;
  /** Before/after rows: [label, before, after]. */
  summary?: [string, string, string][];
  /** Per-layer values to plot as bars (ranks, sparsity, bits) and list in a table. */
  layers?: { name: string; value: number; detail: string }[];
  layerMetric?: string;
  optimize?: { seen: Candidate[]; pareto: Candidate[]; baseline: Candidate; best: Candidate | null; objective: string };
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** An SVG scatter plot (x log-scaled when it spans more than 10x), points labelled on hover. */
export function scatterSvg(points: { x: number; y: number; label: string; mark?: boolean }[], xLabel: string, yLabel: string): string {
  const W = 640;
  const H = 360;
  const m = { l: 64, r: 16, t: 16, b: 48 };
  const xs = points.map((p) => p.x).filter((v) => v > 0 && Number.isFinite(v));
  const ys = points.map((p) => p.y).filter(Number.isFinite);
  if (xs.length === 0 || ys.length === 0) return '';
  const logX = Math.max(...xs) / Math.min(...xs) > 10;
  const fx = (v: number): number => (logX ? Math.log10(v) : v);
  const [x0, x1] = [Math.min(...xs.map(fx)), Math.max(...xs.map(fx))];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (v: number): number => m.l + ((fx(v) - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const sy = (v: number): number => H - m.b - ((v - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const dots = points
    .filter((p) => p.x > 0 && Number.isFinite(p.y))
    .map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="${p.mark ? 6 : 4}" fill="${p.mark ? '#d33' : '#36c'}" opacity="0.8"><title>${esc(p.label)}: ${p.x.toPrecision(4)}, ${p.y.toFixed(3)}</title></circle>`)
    .join('');
  const axis = `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#444"/><line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#444"/>`;
  const labels = `<text x="${(W + m.l) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}${logX ? ' (log)' : ''}</text><text x="16" y="${(H - m.b) / 2}" transform="rotate(-90 16 ${(H - m.b) / 2})" text-anchor="middle">${esc(yLabel)}</text>`;
  const ticks =
    [y0, (y0 + y1) / 2, y1].map((v) => `<text x="${m.l - 6}" y="${sy(v) + 4}" text-anchor="end" font-size="11">${v.toFixed(2)}</text>`).join('') +
    [Math.min(...xs), Math.max(...xs)].map((v) => `<text x="${sx(v)}" y="${H - m.b + 16}" text-anchor="middle" font-size="11">${v.toPrecision(3)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">${axis}${ticks}${labels}${dots}</svg>`;
}

/** An SVG horizontal bar chart. */
export function barsSvg(items: { name: string; value: number }[], label: string): string {
  if (items.length === 0) return '';
  const W = 640;
  const row = 18;
  const H = items.length * row + 30;
  const max = Math.max(...items.map((i) => i.value), 1e-12);
  const bars = items
    .map((it, i) => {
      const w = (it.value / max) * (W - 260);
      return `<text x="196" y="${i * row + 14}" text-anchor="end">${esc(it.name.slice(0, 30))}</text><rect x="200" y="${i * row + 3}" width="${Math.max(1, w).toFixed(1)}" height="${row - 6}" fill="#36c"/><text x="${204 + w}" y="${i * row + 14}">${it.value.toPrecision(3)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">${bars}<text x="200" y="${H - 6}">${esc(label)}</text></svg>`;
}

function table(header: string[], rows: string[][]): string {
  return `<table><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network). */
export function renderHtmlReport(d: HtmlReportData): string {
  const parts: string[] = [`<h1>${esc(d.title)}</h1>`, `<p class="when">${new Date().toISOString()}</p>`];
  if (d.summary !== undefined) parts.push('<h2>Before and after</h2>', table(['', 'before', 'after'], d.summary));
  if (d.optimize !== undefined) {
    const o = d.optimize;
    const all = [o.baseline, ...o.seen];
    const xOf = (c: Candidate): number => (o.objective === 'latency' ? c.measurement.latencyMs : c.measurement.bytes);
    parts.push('<h2>Size against accuracy</h2>');
    parts.push(scatterSvg(all.map((c) => ({ x: xOf(c), y: c.measurement.accuracy * 100, label: c.label, mark: c === o.best })), o.objective === 'latency' ? 'latency (ms)' : 'file bytes', 'accuracy (%)'));
    parts.push('<h2>Pareto front</h2>', table(['candidate', 'bytes', 'latency ms', 'accuracy %', 'drop pt'], o.pareto.map((c) => [c.label, String(c.measurement.bytes), Number.isFinite(c.measurement.latencyMs) ? c.measurement.latencyMs.toFixed(3) : '-', (c.measurement.accuracy * 100).toFixed(2), c.drop.toFixed(2)])));
    parts.push('<h2>Every candidate</h2>', table(['candidate', 'bytes', 'gzipped', 'params', 'MACs', 'accuracy %', 'drop pt', 'within'], all.map((c) => [c.label, String(c.measurement.bytes), String(c.measurement.gzipBytes), String(c.measurement.params), String(c.measurement.macs), (c.measurement.accuracy * 100).toFixed(2), c.drop.toFixed(2), c.feasible ? 'yes' : 'no'])));
  }
  if (d.layers !== undefined && d.layers.length > 0) {
    parts.push(`<h2>Per layer: ${esc(d.layerMetric ?? 'value')}</h2>`, barsSvg(d.layers, d.layerMetric ?? ''), table(['layer', d.layerMetric ?? 'value', 'detail'], d.layers.map((l) => [l.name, Number(l.value.toPrecision(3)).toString(), l.detail])));
  }
  const css = 'body{font:14px/1.45 system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:right}td:first-child,th:first-child{text-align:left}.when{color:#777}';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(d.title)}</title><style>${css}</style></head><body>${parts.join('\n')}</body></html>\n`;
}

/** Writes the report atomically (temp file in the same folder, then rename). */
export async function writeHtmlReport(file: string, d: HtmlReportData): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(tmp, renderHtmlReport(d));
  await rename(tmp, file);
}
