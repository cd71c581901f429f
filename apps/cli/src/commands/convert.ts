import { type Command, type CliFlags, needPositionals } from '../flags.js';
import { loadModel, saveModel } from '../formats.js';
import { formatBytes } from '../table.js';

interface ConvertFlags {
  json: boolean;
}

const flags: CliFlags<ConvertFlags> = {
  json: { type: 'boolean', description: 'print the result as JSON' },
};

/** `mc convert <in> <out>`: translate between formats by extension; ONNX → ONNX is lossless. */
export const convert: Command = {
  name: 'convert',
  summary: 'Convert a model between formats, chosen by the output extension (.onnx, .h5, .keras, model.json). ONNX to ONNX is a lossless round trip.',
  usage: '<in> <out>',
  flags,
  examples: ['mc convert model.h5 model.onnx', 'mc convert model.onnx copy.onnx'],
  async run({ flags: f, positionals, io }) {
    const [input, output] = needPositionals(convert, positionals, ['in', 'out']);
    const loaded = await loadModel(input!);
    const bytes = await saveModel(loaded.model, output!, input);
    if (f.json === true) io.out(JSON.stringify({ input, output, from: loaded.format, bytesIn: loaded.bytes, bytesOut: bytes }));
    else io.out(`${input} (${loaded.format}, ${formatBytes(loaded.bytes)}) -> ${output} (${formatBytes(bytes)})`);
  },
};
