import { writeFileSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadNamedFeeds } from '@mc/datasets';
import { assertFiniteWeights } from '@mc/verify';
import { VARIANT_FILES, VARIANT_SETS, VARIANTS_DEFAULTS, type VariantsReport, variants, writeVariants } from '@mc/pipeline';
import { EXIT, UsageError } from '../exit-codes.js';
import { defineCommand, needPositionals } from '../flags.js';
import { loadModel } from '../formats.js';
import { formatBytes } from '../table.js';
import { SUMMARY } from './summaries.js';

const SETS = Object.keys(VARIANT_SETS) as (keyof typeof VARIANT_SETS)[];

const flags = {
  set: {
    type: 'string',
    choices: SETS,
    description:
      'which variants: transformersjs (fp32, fp16, q8, int8, uint8, q4, q4f16; bnb4 is reported as not written), web (fp32, fp16, q8 as int8 DequantizeLinear weights, q4, q4f16) or mobile (fp32, fp16, int8, uint8, q4)',
    default: VARIANTS_DEFAULTS.set,
  },
  'data-dir': {
    type: 'string',
    arg: 'D',
    description:
      'folder with one <input>.npy per model input ([N, ...] rows): parity and latency run on its first rows instead of synthetic inputs',
  },
  'calibration-size': { type: 'number', arg: 'N', description: 'rows read from --data-dir', default: 4 },
  'no-web': { type: 'boolean', description: 'skip the onnxruntime-web (wasm) load and run' },
  json: { type: 'boolean', description: 'print the report as JSON' },
} as const;

/** The report as a markdown table (written beside variants.json and printed). */
export function variantsMarkdown(r: VariantsReport): string {
  const rows = r.entries.map((e) => [
    e.dtype,
    e.file,
    e.status,
    e.status === 'skipped' ? '-' : `${formatBytes(e.bytes)} (${(100 * e.ratio).toFixed(1)} %)`,
    e.status === 'skipped' ? '-' : `${e.cosine.toFixed(5)} ≥ ${e.floor}`,
    e.top1 === undefined ? '-' : e.top1.toFixed(3),
    e.webCosine === undefined ? '-' : e.webCosine.toFixed(5),
    e.status === 'skipped' ? '-' : e.latencyNodeMs.toFixed(3),
    e.latencyWebMs === undefined ? '-' : e.latencyWebMs.toFixed(3),
    e.suits.join(' '),
    e.reasons.join('; ') || e.recipe,
  ]);
  const head = ['dtype', 'file', 'status', 'bytes', 'cosine vs fp32', 'top-1', 'web≈node', 'node ms', 'web ms', 'suits', 'notes'];
  const md = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((x) => `| ${x.join(' | ')} |`)];
  const a = r.accuracyLevel;
  return [
    `Variants (${r.set}) on ${r.inputs}; float32 ${formatBytes(r.float32Bytes)}.`,
    '',
    ...md,
    '',
    ...(a ? [`q4 accuracy_level ${a.chosen}: ${a.why}.`] : []),
  ].join('\n');
}

/** `mc variants <in.onnx> <outdir>`: the transformers.js file set, each variant verified, one report. */
export const variantsCommand = defineCommand({
  name: 'variants',
  summary: SUMMARY.variants,
  usage: '[--set transformersjs|web|mobile] [--data-dir D] [--no-web] [--json] <in.onnx> <outdir>',
  flags,
  examples: ['mc variants gpt.onnx out/gpt', 'mc variants --set web --data-dir calib/ model.onnx site/models/m'],
  async run({ flags: f, positionals, io }) {
    const [input, outdir] = needPositionals(variantsCommand, positionals, ['in.onnx', 'outdir']);
    if (Object.values(VARIANT_FILES).some((n) => resolve(outdir!, 'onnx', n) === resolve(input!)))
      throw new UsageError(
        `mc variants: ${input} would be overwritten by a variant; pick an <outdir> other than the input's parent folder`,
      );
    const { model } = await loadModel(input!);
    assertFiniteWeights(model, input);
    const names = model.graph.inputs.filter((v) => !model.graph.initializers.has(v.name)).map((v) => v.name);
    const dir = f['data-dir'];
    const n = f['calibration-size'];
    if (!(n >= 1)) throw new UsageError(`mc variants: --calibration-size must be at least 1, got ${n}`);
    const feeds = dir === undefined ? undefined : await loadNamedFeeds(dir, names, { batchSize: 1, limit: n });
    const result = await variants(model, {
      set: f.set,
      ...(feeds !== undefined && { feeds, inputs: `${feeds.length} rows of ${dir}` }),
      ...(f['no-web'] === true && { web: false }),
    });
    const written = writeVariants(result, outdir!);
    const md = variantsMarkdown(result.report);
    const mdFile = join(outdir!, 'variants.md');
    writeFileSync(`${mdFile}.tmp`, `${md}\n`);
    renameSync(`${mdFile}.tmp`, mdFile);
    if (f.json === true) io.out(JSON.stringify({ ...result.report, written: [...written, mdFile] }, null, 2));
    else io.out(md);
    if (!result.report.ok) {
      io.err(
        `mc variants: ${result.report.entries
          .filter((e) => e.status === 'failed')
          .map((e) => `${e.dtype} failed (${e.reasons.join('; ')})`)
          .join(', ')}; the files are written for inspection, see ${mdFile}`,
      );
      return EXIT.verify;
    }
    return EXIT.ok;
  },
});
