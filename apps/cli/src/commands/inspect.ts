import { DEFAULT_DIM_SIZES, modelStats, opInfo, type StatsOptions, typeText } from '@mc/ir';
import { UsageError } from '../exit-codes.js';
import { defineCommand, needPositionals, type OptionFlags } from '../flags.js';
import { loadModel } from '../formats.js';
import { formatBytes, formatNumber, formatTable } from '../table.js';
import { SUMMARY } from './summaries.js';

const D = DEFAULT_DIM_SIZES;

/** The flag table is typed against StatsOptions (filled from --input-shape and --dim), plus the output flags. */
const flags = {
  json: {
    type: 'boolean',
    description: 'print one JSON object {format, opset, params, bytes, macs, effectiveMacs, dims, assumed, inputs, outputs, nodes}',
  },
  nodes: { type: 'boolean', description: 'list every node, also those without parameters or MACs' },
  'input-shapes': null, // --input-shape
  dims: null, // --dim
  dim: { type: 'strings', arg: 'name=size', description: 'size of a named symbolic dimension, e.g. batch=8' },
  'input-shape': {
    type: 'strings',
    arg: 'name=AxBxC',
    description: `concrete shape of a graph input for the MACs, e.g. input_ids=1x128; symbolic dims given no size take defaults: batch-like (or axis 0) ${D.batch}, sequence-like (or axis 1 of integer ids) ${D.sequence}, height/width (or unnamed image axes) ${D.spatial}, others ${D.other}`,
  },
} as const satisfies OptionFlags<StatsOptions>;

/** `--input-shape name=1x3x224x224` and `--dim batch=8` into stats options. */
function sizeOptions(shapes: string[] | undefined, dims: string[] | undefined): StatsOptions {
  const split = (s: string, flag: string): [string, string] => {
    const i = s.lastIndexOf('=');
    if (i <= 0)
      throw new UsageError(
        `mc inspect: --${flag} needs name=${flag === 'dim' ? 'size' : 'AxBxC'}, got '${s}'; e.g. --${flag} ${flag === 'dim' ? 'batch=8' : 'input=1x3x224x224'}`,
      );
    return [s.slice(0, i), s.slice(i + 1)];
  };
  const size = (t: string, flag: string, whole: string): number => {
    const n = Number(t);
    if (!/^\d+$/.test(t) || !Number.isSafeInteger(n))
      throw new UsageError(`mc inspect: --${flag} '${whole}' has a size '${t}' that is not a whole number; give sizes like 1x3x224x224`);
    return n;
  };
  const inputShapes: Record<string, number[]> = {};
  for (const s of shapes ?? []) {
    const [name, dimsText] = split(s, 'input-shape');
    inputShapes[name] = dimsText === '' ? [] : dimsText.split('x').map((t) => size(t, 'input-shape', s));
  }
  const named: Record<string, number> = {};
  for (const s of dims ?? []) {
    const [name, n] = split(s, 'dim');
    named[name] = size(n, 'dim', s);
  }
  return { inputShapes, dims: named };
}

/** `mc inspect <model>`: format, opset, inputs/outputs, per-node table, totals. */
export const inspect = defineCommand({
  name: 'inspect',
  summary: SUMMARY.inspect,
  usage: '[--json] [--input-shape name=AxBxC ...] [--dim name=size ...] <model>',
  flags,
  examples: ['mc inspect model.onnx', 'mc inspect --input-shape input_ids=1x512 gpt.onnx', 'mc inspect --json model.h5 | jq .params'],
  async run({ flags: f, positionals, io }) {
    const [file] = needPositionals(inspect, positionals, ['model']);
    const { model, format, bytes } = await loadModel(file!);
    const stats = modelStats(model, sizeOptions(f['input-shape'], f.dim));
    const unknown = model.graph.nodes
      .filter((n) => n.domain !== '' && n.domain !== 'ai.onnx' && opInfo(n) === undefined)
      .map((n) => ({ name: n.name, opType: n.opType, domain: n.domain }));
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
      effectiveMacs: stats.effectiveMacs,
      /** onnxruntime runs dense kernels: sparse initializers are densified at load. */
      executedMacs: 'macs',
      dims: stats.dims,
      assumed: stats.assumed,
      uncounted: stats.uncounted,
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
    const dimText = Object.entries(stats.dims).map(([k, v]) => {
      const a = stats.assumed.find((x) => x.symbol === k);
      return `${k}=${v}${a === undefined ? '' : ` (assumed, ${a.kind})`}`;
    });
    if (dimText.length > 0)
      lines.push(`  sizes  ${dimText.join(', ')}${stats.assumed.length > 0 ? '; set them with --input-shape or --dim' : ''}`);
    const shown = stats.nodes.filter((n) => f.nodes === true || n.params > 0 || n.macs > 0);
    const sparse = stats.effectiveMacs !== stats.macs;
    lines.push('');
    lines.push(
      formatTable(
        ['op', 'name', 'params', 'bytes', 'MACs', ...(sparse ? ['effective MACs'] : [])],
        shown.map((n) => [
          n.domain ? `${n.domain}::${n.opType}` : n.opType,
          n.name,
          n.params,
          n.bytes,
          n.macs,
          ...(sparse ? [n.effectiveMacs] : []),
        ]),
      ),
    );
    if (shown.length < stats.nodes.length)
      lines.push(`(${stats.nodes.length - shown.length} nodes without parameters or MACs not shown; --nodes lists all)`);
    lines.push('');
    lines.push(
      `total: ${formatNumber(stats.params)} params, ${formatBytes(stats.paramBytes)} of weights, file ${formatBytes(bytes)}, ${formatNumber(stats.macs)} MACs, ${stats.nodeCount} nodes`,
    );
    if (sparse)
      lines.push(
        `MACs: ${formatNumber(stats.macs)} dense (what onnxruntime executes: it densifies sparse weights), ${formatNumber(stats.effectiveMacs)} effective (non-zero weights)`,
      );
    if (stats.uncounted.length > 0) lines.push(`MACs not counted (shapes unknown): ${stats.uncounted.join(', ')}`);
    if (unknown.length > 0)
      lines.push(
        `custom-domain ops (passed through by every technique): ${[...new Set(unknown.map((u) => `${u.domain}::${u.opType}`))].join(', ')}`,
      );
    io.out(lines.join('\n'));
  },
});
