import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { type Model, modelStats } from '@mc/ir';
import { formatBytes, formatNumber, formatTable } from './table.js';

/** The survey's size figures of one model file (parameters a, bytes raw and gzipped, MACs). */
export interface ModelFigures {
  params: number;
  bytes: number;
  gzipBytes: number;
  macs: number;
  nodes: number;
}

/** Files above this many bytes are not gzipped for the figures (gzip -9 of GiBs takes minutes); the row says '–'. */
const GZIP_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Figures of a model and the file it was read from or written to. The bytes include the external-data files an ONNX
 * file names (its .onnx is then small, so reading it again to find them is cheap).
 */
export async function figuresOf(model: Model, file: string): Promise<ModelFigures> {
  const bytes = await readFile(file);
  let total = bytes.length;
  let external = false;
  if (file.toLowerCase().endsWith('.onnx') && bytes.length < 16 * 1024 * 1024) {
    const { readOnnx, externalDataFiles } = await import('@mc/io-onnx');
    try {
      for (const p of externalDataFiles(readOnnx(bytes, { file, baseDir: path.dirname(path.resolve(file)) }))) {
        total += (await stat(p)).size;
        external = true;
      }
    } catch {
      // figures only: an unreadable reference was reported when the model was read
    }
  }
  // A TF.js model.json names its weight shards; the model's bytes are theirs too.
  if (file.toLowerCase().endsWith('.json')) {
    for (const p of tfjsShards(bytes, file)) {
      total += (await stat(p)).size;
      external = true;
    }
  }
  const s = modelStats(model);
  const gzipBytes = external || total > GZIP_MAX_BYTES ? Number.NaN : gzipSync(bytes, { level: 9 }).length;
  return { params: s.params, bytes: total, gzipBytes, macs: s.macs, nodes: s.nodeCount };
}

/** The weight shard files a TF.js model.json names (none for other JSON). */
function tfjsShards(json: Uint8Array, file: string): string[] {
  let manifest: unknown;
  try {
    manifest = (JSON.parse(new TextDecoder().decode(json)) as { weightsManifest?: unknown }).weightsManifest;
  } catch {
    return [];
  }
  if (!Array.isArray(manifest)) return [];
  const dir = path.dirname(path.resolve(file));
  return manifest
    .flatMap((g) => (Array.isArray(g?.paths) ? (g.paths as unknown[]).filter((p) => typeof p === 'string') : []))
    .map((p) => path.join(dir, p as string));
}

/** Compression rate a/a* and space saving (a − a*)/a* (a, a* = parameters before/after), as the survey defines them. */
export function compressionFigures(
  before: ModelFigures,
  after: ModelFigures,
): { compressionRate: number; spaceSaving: number; bytesRatio: number } {
  return {
    compressionRate: before.params / Math.max(1, after.params),
    spaceSaving: (before.params - after.params) / Math.max(1, after.params),
    bytesRatio: before.bytes / Math.max(1, after.bytes),
  };
}

/** One extra row of the before/after table (accuracy, latency, ...). */
export type ExtraRow = [label: string, before: string | number, after: string | number];

/** The terminal before/after table every compressing command prints. */
export function beforeAfterTable(before: ModelFigures, after: ModelFigures, extra: readonly ExtraRow[] = []): string {
  const c = compressionFigures(before, after);
  const pct = (a: number, b: number): string =>
    a === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? '' : `${(((b - a) / a) * 100).toFixed(1)}%`;
  const rows: (string | number)[][] = [
    ['parameters', formatNumber(before.params), formatNumber(after.params), pct(before.params, after.params)],
    ['file bytes', formatBytes(before.bytes), formatBytes(after.bytes), pct(before.bytes, after.bytes)],
    ['gzipped bytes', formatBytes(before.gzipBytes), formatBytes(after.gzipBytes), pct(before.gzipBytes, after.gzipBytes)],
    ['MACs', formatNumber(before.macs), formatNumber(after.macs), pct(before.macs, after.macs)],
    ['nodes', before.nodes, after.nodes, ''],
    ...extra.map(([l, b, a]) => [l, typeof b === 'number' ? formatNumber(b) : b, typeof a === 'number' ? formatNumber(a) : a, '']),
  ];
  const table = formatTable(
    ['', 'before', 'after', 'change'],
    rows.map((r) => r.map(String)),
  );
  return `${table}\ncompression rate a/a* = ${c.compressionRate.toFixed(2)}x, space saving (a-a*)/a* = ${(c.spaceSaving * 100).toFixed(1)}%, file ${c.bytesRatio.toFixed(2)}x smaller`;
}

/** One line per output of a `--verify` comparison; `inputs` says what the models were run on. */
export function verifyLines(worst: Record<string, { cosine: number; maxAbs: number; top1?: number }>, inputs?: string): string[] {
  return Object.entries(worst).map(
    ([name, c]) =>
      `verify ${name}${inputs === undefined ? '' : ` (${inputs})`}: cosine ${c.cosine.toFixed(6)}, max |Δ| ${c.maxAbs.toExponential(2)}${c.top1 === undefined ? '' : `, top-1 agreement ${(c.top1 * 100).toFixed(1)}%`}`,
  );
}
