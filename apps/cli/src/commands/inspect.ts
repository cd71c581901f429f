import { modelStats, typeText } from '@mc/ir';
import { type Command, type CliFlags, needPositionals } from '../flags.js';
import { loadModel } from '../formats.js';
import { formatBytes, formatNumber, formatTable } from '../table.js';

interface InspectFlags {
  json: boolean;
  nodes: boolean;
}

const flags: CliFlags<InspectFlags> = {
  json: { type: 'boolean', description: 'print one JSON object {format, opset, params, bytes, macs, inputs, outputs, nodes}' },
  nodes: { type: 'boolean', description: 'list every node, also those without parameters or MACs' },
};

/** `mc inspect <model>`: format, opset, inputs/outputs, per-node table, totals. */
export const inspect: Command = {
  name: 'inspect',
  summary: 'Show a model: format, opset, inputs and outputs, per-node parameters, bytes and MACs, and totals.',
  usage: '[--json] <model>',
  flags,
  examples: ['mc inspect model.onnx', 'mc inspect --json model.h5 | jq .params'],
  async run({ flags: f, positionals, io }) {
    const [file] = needPositionals(inspect, positionals, ['model']);
    const { model, format, bytes } = await loadModel(file!);
    const stats = modelStats(model);
    const unknown = model.graph.nodes.filter((n) => n.domain !== '' && n.domain !== 'ai.onnx').map((n) => ({ name: n.name, opType: n.opType, domain: n.domain }));
    const summary = {
      file,
      format,
      irVersion: model.irVersion,
      opset: model.opset('') ?? null,
      opsetImports: Object.fromEntries(model.opsetImports),
      producer: `${model.producerName} ${model.producerVersion}`.trim(),
      params: stats.params,
      paramBytes: stats.paramBytes,
      bytes,
      macs: stats.macs,
      inputs: model.graph.inputs.filter((v) => v.constValue === undefined).map((v) => ({ name: v.name, type: typeText(v.type) })),
      outputs: model.graph.outputs.map((v) => ({ name: v.name, type: typeText(v.type) })),
      nodeCount: stats.nodeCount,
      nodes: stats.nodes,
      customDomainNodes: unknown,
    };
    if (f.json === true) {
      io.out(JSON.stringify(summary, null, 2));
      return;
    }
    const lines: string[] = [];
    lines.push(`${file}: ${format}, IR ${model.irVersion}, opset ${summary.opset ?? '-'}, producer ${summary.producer || '-'}`);
    for (const v of summary.inputs) lines.push(`  input  ${v.name}: ${v.type}`);
    for (const v of summary.outputs) lines.push(`  output ${v.name}: ${v.type}`);
    const shown = stats.nodes.filter((n) => f.nodes === true || n.params > 0 || n.macs > 0);
    lines.push('');
    lines.push(formatTable(['op', 'name', 'params', 'bytes', 'MACs'], shown.map((n) => [n.domain ? `${n.domain}::${n.opType}` : n.opType, n.name, n.params, n.bytes, n.macs])));
    if (shown.length < stats.nodes.length) lines.push(`(${stats.nodes.length - shown.length} nodes without parameters or MACs not shown; --nodes lists all)`);
    lines.push('');
    lines.push(`total: ${formatNumber(stats.params)} params, ${formatBytes(stats.paramBytes)} of weights, file ${formatBytes(bytes)}, ${formatNumber(stats.macs)} MACs, ${stats.nodeCount} nodes`);
    if (unknown.length > 0) lines.push(`custom-domain ops (passed through by every technique): ${[...new Set(unknown.map((u) => `${u.domain}::${u.opType}`))].join(', ')}`);
    io.out(lines.join('\n'));
  },
};
