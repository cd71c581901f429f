import { readFile } from 'node:fs/promises';
import { McError } from '@mc/ir';
import { parseRecipe, pipeline, type PipelineOptions, recipeMaxAccuracyDrop, techniqueOf } from '@mc/pipeline';
import { storePruned } from '@mc/prune';
import { DATA_FLAGS, loadDataFlags } from '../data-flags.js';
import { defineCommand, needPositionals, type OptionFlags } from '../flags.js';
import { errnoCode, loadModel, outputFormat, saveModel } from '../formats.js';
import { refuseUnshrinkableKeras } from '../keras-quantized.js';
import { formatValue, writeHtmlReport } from '../html-report.js';
import { beforeAfterTable, figuresOf } from '../summary.js';
import { formatNumber, formatTable } from '../table.js';
import { assertFiniteWeights } from '@mc/verify';
import { gateJson, gateLines, verifyBeforeWrite, warnNothingChanged } from '../verify-gate.js';
import { SUMMARY } from './summaries.js';

/** The flag table is typed against PipelineOptions (data and feed come from the data flags), plus output flags. */
const flags = {
  ...DATA_FLAGS,
  data: null, // --dataset, --data-dir, --limit
  feed: null, // --scale
  verify: null, // --no-verify
  check: null, // per step, in the recipe
  'verify-feeds': null,
  'on-progress': null,
  signal: null,
  'no-verify': { type: 'boolean', description: 'skip the onnxruntime-node check after every step (the output says it was not verified)' },
  'max-accuracy-drop': {
    type: 'number',
    arg: 'pt',
    description:
      "with data: largest top-1 loss of the final model on the test split, in points (default: the largest of the steps' defaults, see docs/verify.md)",
  },
  json: { type: 'boolean', description: 'print every step report as JSON' },
  report: {
    type: 'string',
    arg: 'file.html',
    description: 'also write a self-contained HTML report (before/after figures, parameters after each step)',
  },
} as const satisfies OptionFlags<PipelineOptions>;

/** `mc run recipe.yaml <in> <out>`: a pipeline of steps, each verified, written once at the end. */
export const run = defineCommand({
  name: 'run',
  summary: SUMMARY.run,
  usage: '<recipe.json|yaml> <in> <out>',
  flags,
  examples: [
    'mc run recipe.yaml model.onnx small.onnx',
    'recipe.yaml:  steps: [{lowrank: {error: 0.3}}, {finetune: {epochs: 1}}, {quantize: {mode: int8-static, check: {minTop1: 0.99}}}]',
  ],
  async run({ flags: f, positionals, io }) {
    const [recipeFile, input, output] = needPositionals(run, positionals, ['recipe', 'in', 'out']);
    let text: string;
    try {
      text = await readFile(recipeFile!, 'utf8');
    } catch (e) {
      throw new McError('E_IO', `cannot read recipe ${recipeFile}: ${errnoCode(e) ?? String(e)}; check the path`, {
        context: { file: recipeFile! },
      });
    }
    const recipe = parseRecipe(text, recipeFile);
    // A quantize step into a Keras output that would store its weights dequantized is refused before any work.
    for (const s of recipe.steps) {
      if (s.step !== 'quantize') continue;
      const perChannel = 'perChannel' in s.options ? s.options.perChannel : undefined;
      refuseUnshrinkableKeras(
        outputFormat(output!),
        s.options.mode,
        s.options.mode === 'int8-weights' ? (perChannel ?? true) : perChannel,
        output!,
      );
    }
    const dataFlags =
      f.dataset === undefined && recipe.data !== undefined ? { ...f, dataset: recipe.data.dataset, 'data-dir': recipe.data.dir } : f;
    const scale = f.scale ?? recipe.data?.scale;
    const loaded = await loadModel(input!);
    assertFiniteWeights(loaded.model, input);
    const data = await loadDataFlags(dataFlags, 'train');
    const progress = io.isTTY && !io.quiet && f.json !== true;
    const result = await pipeline(loaded.model, recipe.steps, {
      ...(data !== undefined && { data }),
      ...(scale !== undefined && { feed: { scale } }),
      verify: f['no-verify'] !== true,
      ...(progress && {
        onProgress: (e) =>
          io.err(`step ${e.index + 1}/${e.total} ${e.step} ${e.phase === 'done' ? `done in ${e.seconds?.toFixed(1)} s` : '...'}`),
      }),
    });
    // Pruned weights stay dense (with their masks) through every step; their storage is applied only now, at write.
    const stored = storePruned(result.model);
    // With data, the whole recipe is also held to an accuracy bound on the test split, before anything is written.
    const last = recipe.steps[recipe.steps.length - 1]!;
    const drop = f['max-accuracy-drop'] ?? recipeMaxAccuracyDrop(recipe.steps);
    const verify =
      data === undefined && f['no-verify'] !== true
        ? undefined
        : await verifyBeforeWrite({ ...dataFlags, scale, 'max-accuracy-drop': drop }, io, {
            reference: loaded.model,
            candidate: stored.model,
            technique: techniqueOf(last),
            output: output!,
          });
    for (const s of result.steps) warnNothingChanged(io, s.report, `step ${s.index + 1} (${s.step}): `);
    await saveModel(stored.model, output!, input);
    if (f.json === true) {
      io.out(
        JSON.stringify(
          { input, output, steps: result.steps, storage: stored.report, ...(data !== undefined && { verify: gateJson(verify) }) },
          (_k, v) => (typeof v === 'bigint' ? v.toString() : v),
          2,
        ),
      );
      return;
    }
    const rows = result.steps.map((s) => [
      `${s.index + 1}`,
      s.step,
      formatNumber(s.report.before?.params ?? NaN),
      formatNumber(s.report.after?.params ?? NaN),
      s.check === undefined ? '-' : s.check.cosine.toFixed(4),
      s.check?.top1 === undefined ? '-' : `${(s.check.top1 * 100).toFixed(1)}%`,
      s.seconds.toFixed(1),
    ]);
    const lines = [formatTable(['#', 'step', 'params', 'after', 'cosine', 'top-1 agree', 's'], rows)];
    for (const s of result.steps)
      for (const p of s.report.passedThrough ?? []) lines.push(`step ${s.index + 1} passed through ${p.opType} '${p.node}': ${p.reason}`);
    for (const s of result.steps) {
      for (const r of s.masks?.reapplied ?? [])
        lines.push(`step ${s.index + 1} (${s.step}) moved ${r.entries} pruned weights of '${r.weight}'; set back to zero`);
      for (const l of s.masks?.lost ?? []) lines.push(`step ${s.index + 1} (${s.step}) lost the pruning of '${l.weight}': ${l.reason}`);
    }
    const sw = stored.report.weights;
    if (sw.length > 0)
      lines.push(
        `pruned weights written as ${[...new Set(sw.map((w) => w.storage))].join(', ')}: ${formatNumber(stored.report.bytesBefore)} → ${formatNumber(stored.report.bytesAfter)} bytes`,
      );
    const [figBefore, figAfter] = [await figuresOf(loaded.model, input!), await figuresOf(stored.model, output!)];
    lines.push('', beforeAfterTable(figBefore, figAfter));
    if (data !== undefined || f['no-verify'] === true) lines.push(...gateLines(verify));
    if (f.report !== undefined) {
      await writeHtmlReport(f.report, {
        title: `mc run ${recipeFile} ${input}`,
        summary: (['params', 'bytes', 'gzipBytes', 'macs'] as const).map((k) => [k, String(figBefore[k]), String(figAfter[k])]),
        layerMetric: 'weight bytes after the step',
        layerKind: 'step',
        layers: [
          {
            name: '0 input',
            value: result.steps[0]?.report.before?.paramBytes ?? NaN,
            detail: `${formatNumber(figBefore.params)} parameters`,
          },
          ...result.steps.map((s) => ({
            name: `${s.index + 1} ${s.step}`,
            value: s.report.after?.paramBytes ?? NaN,
            detail: `${formatValue(s.report.after?.params ?? NaN)} parameters; ${s.check === undefined ? 'not verified' : `cosine ${s.check.cosine.toFixed(4)}${s.check.top1 === undefined ? '' : `, top-1 agreement ${(s.check.top1 * 100).toFixed(1)}%`}`}`,
          })),
        ],
      });
      lines.push(`wrote ${f.report}`);
    }
    io.out(lines.join('\n'));
  },
});
