import { renameSync, writeFileSync } from 'node:fs';
import type { Model } from '@mc/ir';
import { LINT_TARGETS, lintModel, reducedOpsConfig } from '@mc/pipeline';
import { EXIT, UsageError } from '../exit-codes.js';
import { defineCommand } from '../flags.js';
import { loadModel } from '../formats.js';
import { formatTable } from '../table.js';
import { SUMMARY } from './summaries.js';

const flags = {
  target: { type: 'string', choices: LINT_TARGETS, description: 'where the model will run', default: 'cpu' },
  json: { type: 'boolean', description: 'print the findings as JSON' },
  'ops-config': {
    type: 'string',
    arg: 'FILE',
    description:
      'also write the reduced-operator config of the models (onnxruntime build.sh --include_ops_by_config FILE) for a custom mobile build',
  },
} as const;

/** `mc lint --target T <model>...`: nodes the target cannot run as written, with the reason and the fix. */
export const lintCommand = defineCommand({
  name: 'lint',
  summary: SUMMARY.lint,
  usage: '[--target cpu|wasm|webgpu|nnapi|coreml|mobile] [--json] [--ops-config FILE] <model> [model ...]',
  flags,
  examples: [
    'mc lint --target webgpu onnx/model_quantized.onnx',
    'mc lint --target cpu --json model_fp16.onnx',
    'mc lint --target mobile --ops-config app.required_operators.config onnx/model_int8.onnx',
  ],
  async run({ flags: f, positionals, io }) {
    if (positionals.length === 0) throw new UsageError(`mc lint: expected <model>; usage: mc lint ${lintCommand.usage}`);
    const reports = [];
    const models: Model[] = [];
    for (const file of positionals) {
      const { model } = await loadModel(file);
      models.push(model);
      reports.push({ file, ...lintModel(model, f.target) });
    }
    const config = f['ops-config'];
    if (config !== undefined) {
      if (positionals.includes(config)) throw new UsageError(`mc lint: --ops-config ${config} is one of the models; name another file`);
      writeFileSync(`${config}.tmp`, reducedOpsConfig(models));
      renameSync(`${config}.tmp`, config);
    }
    if (f.json === true) io.out(JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2));
    else {
      for (const r of reports) {
        const errors = r.findings.filter((x) => x.severity === 'error').length;
        io.out(`${r.file}: ${r.findings.length} finding(s) for ${r.target}, ${errors} error(s)`);
        if (r.findings.length > 0) {
          io.out(
            formatTable(
              ['node', 'op', 'severity', 'reason'],
              r.findings.map((x) => [x.node || '(unnamed)', x.domain ? `${x.domain}:${x.opType}` : x.opType, x.severity, x.reason]),
            ),
          );
          io.out(`fix: ${[...new Set(r.findings.map((x) => x.fix))].join('; ')}`);
        }
      }
    }
    return reports.every((r) => r.ok) ? EXIT.ok : EXIT.unsupported;
  },
});
