import { LINT_TARGETS, lintModel } from '@mc/pipeline';
import { EXIT, UsageError } from '../exit-codes.js';
import { defineCommand } from '../flags.js';
import { loadModel } from '../formats.js';
import { formatTable } from '../table.js';

const flags = {
  target: { type: 'string', choices: LINT_TARGETS, description: 'where the model will run', default: 'cpu' },
  json: { type: 'boolean', description: 'print the findings as JSON' },
} as const;

/** `mc lint --target T <model>...`: nodes the target cannot run as written, with the reason and the fix. */
export const lintCommand = defineCommand({
  name: 'lint',
  summary: 'List the nodes a deployment target (cpu, wasm, webgpu, nnapi, coreml, mobile) lacks kernels for, with the reason and the fix.',
  usage: '[--target cpu|wasm|webgpu|nnapi|coreml|mobile] [--json] <model> [model ...]',
  flags,
  examples: ['mc lint --target webgpu onnx/model_quantized.onnx', 'mc lint --target cpu --json model_fp16.onnx'],
  async run({ flags: f, positionals, io }) {
    if (positionals.length === 0) throw new UsageError(`mc lint: expected <model>; usage: mc lint ${lintCommand.usage}`);
    const reports = [];
    for (const file of positionals) reports.push({ file, ...lintModel((await loadModel(file)).model, f.target) });
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
