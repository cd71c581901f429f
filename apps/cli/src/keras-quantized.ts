import path from 'node:path';
import { McError } from '@mc/ir';
import type { ModelFormat } from './formats.js';

/**
 * Refuses a quantize whose Keras-family output could not be smaller than the float model, before any work is done.
 * mc writes Keras .h5 and .keras files with standard Keras layers, whose weights are float32: quantized weights would be
 * stored dequantized, as large as `mc convert` writes them. TF.js weight specs keep uint8 codes with one scale and
 * offset per tensor, so a model.json shrinks for `--mode int8-weights` per tensor, and for nothing else.
 *
 * @param output - the output path; its format is `format`
 * @param perChannel - the `--per-channel` flag as given (undefined when absent)
 * @throws McError E_UNSUPPORTED (exit 4) with the reason and the output that does shrink
 */
export function refuseUnshrinkableKeras(format: ModelFormat, mode: string, perChannel: boolean | undefined, output: string): void {
  if (format === 'onnx') return;
  const onnx = `${output.slice(0, output.length - path.extname(output).length)}.onnx`;
  const ctx = { context: { file: output, mode } };
  if (format === 'keras-h5' || format === 'keras-zip') {
    throw new McError(
      'E_UNSUPPORTED',
      `quantize --mode ${mode} cannot make ${output} smaller: mc writes Keras ${path.extname(output)} files with standard ` +
        'layers and float32 weights (it has no writer for Keras 3 int8 layers), so the quantized weights would be stored ' +
        `dequantized, as large as mc convert writes them; write ${onnx} (quantized weights, onnxruntime) or a TF.js ` +
        'model.json with --mode int8-weights (uint8 weights) instead',
      ctx,
    );
  }
  if (mode !== 'int8-weights') {
    throw new McError(
      'E_UNSUPPORTED',
      `quantize --mode ${mode} cannot make the TF.js model ${output} smaller: TF.js weight specs hold float32 or uint8 ` +
        `codes with one scale per tensor, so ${mode} weights would be stored dequantized; use --mode int8-weights for ` +
        `model.json, or write ${onnx}`,
      ctx,
    );
  }
  if (perChannel === true) {
    throw new McError(
      'E_UNSUPPORTED',
      `quantize --mode int8-weights --per-channel cannot make the TF.js model ${output} smaller: TF.js weight specs ` +
        `hold one scale per tensor, so per-channel codes would be stored dequantized; drop --per-channel (perChannel: false in a ` +
        `recipe) or write ${onnx}`,
      ctx,
    );
  }
}
