import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { McError, type Model } from '@mc/ir';
import { gate, gateFailure, type GateReport } from '@mc/pipeline';
import { nonFiniteWeights } from '@mc/verify';
import { defineCommand, type FlagTable, needPositionals } from '../flags.js';
import { loadModel, outputFormat, saveModel } from '../formats.js';
import { formatBytes } from '../table.js';
import { gateJson, gateLines } from '../verify-gate.js';
import { SUMMARY } from './summaries.js';

/** Convert has no options of a library: the format follows from the output name. */
const flags = {
  json: { type: 'boolean', description: 'print the result as JSON' },
  'no-verify': {
    type: 'boolean',
    description: 'skip the bitwise onnxruntime-node check of the output read back (the output says it was not verified)',
  },
} as const satisfies FlagTable;

/** The model as the output file will hold it: ONNX encoded and decoded in memory, Keras formats through a temp folder. */
async function readBack(model: Model, output: string): Promise<Model> {
  if (outputFormat(output) === 'onnx') {
    const { readOnnx, writeOnnx } = await import('@mc/io-onnx');
    return readOnnx(writeOnnx(model));
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mc-convert-'));
  try {
    const file = path.join(dir, path.basename(output));
    await saveModel(model, file);
    return (await loadModel(file)).model;
  } catch (e) {
    // Errors speak of the output the user named, not the temp folder.
    if (!McError.is(e)) throw e;
    throw new McError(e.code, e.message.replaceAll(path.join(dir, path.basename(output)), output).replaceAll(dir, path.dirname(output)), {
      cause: e,
      context: { ...e.context, file: output },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `mc convert <in> <out>`: translate between formats by extension; ONNX → ONNX is lossless. */
export const convert = defineCommand({
  name: 'convert',
  summary: SUMMARY.convert,
  usage: '<in> <out>',
  flags,
  examples: ['mc convert model.h5 model.onnx', 'mc convert model.onnx copy.onnx'],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(convert, positionals, ['in', 'out']);
    const loaded = await loadModel(input!);
    const bad = nonFiniteWeights(loaded.model);
    if (bad.length > 0)
      io.err(
        `mc: warning: ${bad.length} weight(s) hold NaN/Inf (first: '${bad[0]!.tensor}' element ${bad[0]!.index} = ${bad[0]!.value}); convert copies them unchanged, every other command refuses them`,
      );
    let verify: GateReport | undefined;
    if (f['no-verify'] === true) {
      io.err(`mc: warning: --no-verify: ${output} is written without verification`);
    } else {
      // What will be written, read back: the check covers the writer, not just the IR.
      const candidate = await readBack(loaded.model, output!);
      try {
        // ONNX from another exporter (no Keras layer tags) becomes Keras layers op by op: equal up to float rounding.
        const relayout =
          loaded.format === 'onnx' &&
          outputFormat(output!) !== 'onnx' &&
          loaded.model.graph.nodes.every((n) => !n.metadataProps.has('keras.layer'));
        verify = await gate(loaded.model, candidate, { technique: relayout ? 'relayout' : 'convert' });
      } catch (e) {
        if (!(McError.is(e) && e.code === 'E_UNSUPPORTED')) throw e;
        // Lossless by construction (the golden round trip tests it); an op onnxruntime cannot run is no reason to refuse.
        io.err(`mc: warning: not verified: ${e.message.replace(/; pass --no-verify.*$/, '')}`);
      }
      if (verify !== undefined && !verify.ok) throw gateFailure(verify, output);
    }
    const bytes = await saveModel(loaded.model, output!, input);
    if (f.json === true)
      io.out(JSON.stringify({ input, output, from: loaded.format, bytesIn: loaded.bytes, bytesOut: bytes, verify: gateJson(verify) }));
    else
      io.out(
        [
          `${input} (${loaded.format}, ${formatBytes(loaded.bytes)}) -> ${output} (${formatBytes(bytes)})`,
          ...(verify === undefined ? [] : gateLines(verify)),
        ].join('\n'),
      );
  },
});
