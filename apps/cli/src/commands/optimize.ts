import { McError } from '@mc/ir';
import { type Candidate, OPTIMIZE_DATA_DEFAULTS, OPTIMIZE_DEFAULTS, type OptimizeOptions, optimizeOnDataset } from '@mc/pipeline';
import { assertFiniteWeights, GATE_THRESHOLDS } from '@mc/verify';
import { DATA_FLAGS } from '../data-flags.js';
import { defined, defineCommand, needPositionals, type OptionFlags } from '../flags.js';
import { loadModel, saveModel } from '../formats.js';
import { writeHtmlReport } from '../html-report.js';
import { beforeAfterTable, type ExtraRow, figuresOf } from '../summary.js';
import { formatBytes, formatTable } from '../table.js';
import { SUMMARY } from './summaries.js';

const O = OPTIMIZE_DEFAULTS;

/** The flag table is typed against OptimizeOptions, plus the data flags and how the training split is divided. */
const flags = {
  ...DATA_FLAGS,
  limit: { type: 'number', arg: 'n', description: 'test images for the final accuracy check (default: the whole test split)' },
  'max-accuracy-drop': {
    type: 'number',
    arg: 'pt',
    description: `largest accuracy loss allowed, in percentage points, on the search data and again on the test split before writing (default ${GATE_THRESHOLDS.optimize.maxAccuracyDrop})`,
  },
  objective: { type: 'string', choices: ['size', 'latency'], description: 'what to minimise', default: 'size' },
  target: {
    type: 'string',
    choices: ['ort-cpu', 'ort-web'],
    description: 'runtime latency is measured in and op forms are chosen for',
    default: O.target,
  },
  search: null, // --search-samples of the training split
  'search-samples': {
    type: 'number',
    arg: 'n',
    description: 'training images the search scores candidates on',
    default: OPTIMIZE_DATA_DEFAULTS.searchSamples,
  },
  train: null, // --recover-samples after them
  'recover-samples': {
    type: 'number',
    arg: 'n',
    description:
      'training images after the search images for label-free recovery (distillation from the input) of channel-pruned or low-rank candidates that overshoot, for --objective latency; 0 turns recovery off',
    default: OPTIMIZE_DATA_DEFAULTS.recoverSamples,
  },
  'recover-epochs': null,
  'latency-batch': {
    type: 'number',
    arg: 'n',
    description: 'samples per timed inference for --objective latency',
    default: O.latencyBatch,
  },
  'time-budget-seconds': null, // --time-budget
  'time-budget': {
    type: 'number',
    arg: 's',
    description: 'stop searching after s seconds and keep the best seen',
    default: O.timeBudgetSeconds,
  },
  feed: null, // --scale
  'on-progress': null,
  signal: null,
  report: { type: 'string', arg: 'file.html', description: 'also write a self-contained HTML report with plots' },
  json: { type: 'boolean', description: 'print the result as JSON' },
  'no-verify': { type: 'boolean', description: 'write the chosen model without re-checking it on the test split (the output says so)' },
} as const satisfies OptionFlags<OptimizeOptions>;

function row(c: Candidate, objective: string): string[] {
  const m = c.measurement;
  return [
    c.label,
    formatBytes(m.bytes),
    formatBytes(m.gzipBytes),
    objective === 'latency' ? `${m.latencyMs.toFixed(3)} ms` : '',
    `${(m.accuracy * 100).toFixed(2)}%`,
    `${c.drop.toFixed(2)}`,
    c.feasible ? 'yes' : 'no',
  ];
}

/** `mc optimize`: accuracy-aware search over techniques for the smallest or fastest model within a bound. */
export const optimizeCommand = defineCommand({
  name: 'optimize',
  summary: SUMMARY.optimize,
  usage: '--dataset mnist|cifar10 --data-dir D [--max-accuracy-drop 0.5] [--objective size|latency] [--target ort-cpu|ort-web] <in> <out>',
  flags,
  examples: ['mc optimize --dataset mnist --data-dir ../shared/data/mnist --max-accuracy-drop 0.3 model.h5 small.onnx'],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(optimizeCommand, positionals, ['in', 'out']);
    const { dataset: kind, 'data-dir': dir } = f;
    if (kind === undefined || dir === undefined) {
      throw new McError('E_OPTION', 'mc optimize measures accuracy, so it needs --dataset and --data-dir');
    }
    const loaded = await loadModel(input!);
    assertFiniteWeights(loaded.model, input);
    const objective = f.objective;
    const progress = io.isTTY && !io.quiet && f.json !== true;
    const r = await optimizeOnDataset(loaded.model, {
      dataset: kind,
      dir,
      searchSamples: f['search-samples'],
      recoverSamples: f['recover-samples'],
      objective,
      target: f.target,
      feed: defined({ scale: f.scale }),
      timeBudgetSeconds: f['time-budget'],
      latencyBatch: f['latency-batch'],
      output: output!,
      ...defined({ maxAccuracyDrop: f['max-accuracy-drop'], testLimit: f.limit }),
      ...(f['no-verify'] === true && { verify: false }),
      ...(progress && {
        onProgress: (e) =>
          io.err(
            `[${e.elapsed.toFixed(0)} s] ${e.candidate}: ${formatBytes(e.measurement.bytes)}, accuracy ${(e.measurement.accuracy * 100).toFixed(2)}%${e.feasible ? '' : ' (over budget)'}`,
          ),
      }),
    });
    if (r.best !== undefined && !r.verified) io.err(`mc: warning: --no-verify: ${output} is written without the test-split check`);
    const budget = r.maxAccuracyDrop;
    const [testBefore, testAfter] = [r.test.before, r.test.after];
    const summary = {
      input,
      output,
      objective,
      target: f.target,
      maxAccuracyDrop: budget,
      stoppedBy: r.stoppedBy,
      best: r.best ?? null,
      baseline: r.baseline,
      pareto: r.pareto,
      seen: r.seen,
      test: r.test,
    };
    if (r.best !== undefined) await saveModel(r.model, output!, input);
    if (f.report !== undefined) await writeHtmlReport(f.report, { title: `mc optimize ${input}`, optimize: summary });
    if (f.json === true) {
      io.out(JSON.stringify(summary, null, 2));
    } else {
      const lines = [
        'Pareto front (search data):',
        formatTable(
          ['candidate', 'bytes', 'gzipped', objective === 'latency' ? 'latency' : '', 'accuracy', 'drop pt', 'within'],
          r.pareto.map((c) => row(c, objective)),
        ),
      ];
      lines.push('', `${r.seen.length} candidates measured${r.stoppedBy === 'time' ? ' (time budget reached)' : ''}.`);
      if (r.best !== undefined) {
        const extra: ExtraRow[] = [['test accuracy', `${(testBefore * 100).toFixed(2)}%`, `${(testAfter * 100).toFixed(2)}%`]];
        if (objective === 'latency')
          extra.push(['latency (ms)', r.baseline.measurement.latencyMs.toFixed(3), r.best.measurement.latencyMs.toFixed(3)]);
        lines.push(
          `chosen: ${r.best.label}`,
          '',
          beforeAfterTable(await figuresOf(loaded.model, input!), await figuresOf(r.model, output!), extra),
        );
      }
      io.out(lines.join('\n'));
    }
    if (r.best === undefined) {
      const within = r.seen.filter((c) => c.drop <= budget);
      if (within.length > 0) {
        throw new McError(
          'E_VERIFY',
          `${within.length} candidate(s) lost at most ${budget} points but none was ${objective === 'size' ? 'smaller' : 'faster'} than the input; nothing was written — try --objective ${objective === 'size' ? 'latency' : 'size'} or another --target`,
        );
      }
      const closest = [...r.seen].sort((a, b) => a.drop - b.drop)[0];
      throw new McError(
        'E_VERIFY',
        `no candidate lost at most ${budget} points (closest: ${closest?.label ?? 'none'} at ${closest?.drop.toFixed(2) ?? '?'} points); nothing was written — allow a larger --max-accuracy-drop`,
      );
    }
  },
});
