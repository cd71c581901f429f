import { type Model, Tensor, toFloat32, weightOf } from '@mc/ir';

/** Conv's inputs are X, W, B (ONNX spec, every opset). */
const CONV_BIAS = 2;

/**
 * The per-output-channel values of a constant that an output of rank `rank` with `channels` channels on axis 1 is
 * added to: `[C,1,..]` / `[1,C,1,..]` (or a scalar / `[1]`, repeated), else undefined.
 */
function channelVector(t: Tensor, channels: number, rank: number): Float32Array | undefined {
  const dims = t.dims;
  if (dims.length > rank) return undefined;
  const full = [...Array<number>(rank - dims.length).fill(1), ...dims];
  if (full.some((d, i) => i !== 1 && d !== 1)) return undefined;
  const data = toFloat32(t);
  if (full[1] === channels) return Float32Array.from(data);
  if (full[1] === 1) return new Float32Array(channels).fill(data[0]!);
  return undefined;
}

/**
 * Folds `Add(Conv(x, W), b)` into `Conv(x, W, b)` when the Conv has no bias, its output feeds only the Add, and `b` is a
 * float32 initializer that is constant along every axis but the channel axis (CNTK and some converters write the bias
 * as a separate Add). onnxruntime does the same fusion when it loads the float model (ConvAddFusion); doing it before
 * quantization gives the bias its int32 form next to the weight, and one node less. The Add's output name is kept.
 * @internal
 */
export function foldConvBiasAdds(model: Model): number {
  const g = model.graph;
  let n = 0;
  for (const add of [...g.nodes]) {
    if (add.opType !== 'Add' || add.domain !== '' || add.inputs.length !== 2) continue;
    for (const side of [0, 1]) {
      const y = add.inputs[side];
      const c = add.inputs[1 - side];
      const conv = y?.producer();
      if (y === undefined || c === undefined || conv === undefined || conv.opType !== 'Conv' || conv.domain !== '') continue;
      if (conv.inputs[CONV_BIAS] !== undefined || y.uses().length !== 1 || y.isGraphOutput()) continue;
      const w = weightOf(conv)?.tensor;
      const t = c.constValue;
      if (w === undefined || t === undefined || !c.isInitializer() || t.dtype !== 'float32' || c.isGraphInput()) continue;
      const bias = channelVector(t, w.dims[0]!, w.dims.length);
      if (bias === undefined) continue;
      const out = add.outputs[0]!;
      const bv = c.uses().length === 1 ? c : undefined;
      if (bv !== undefined) {
        add.replaceInput(1 - side, undefined);
        g.removeInitializer(c.name);
      }
      const bi = g.addInitializer(bv?.name ?? `${c.name}_bias`, new Tensor('float32', [bias.length], bias));
      conv.replaceInput(CONV_BIAS, bi);
      out.replaceAllUsesWith(y, { graphOutputs: true });
      add.replaceInput(side, undefined);
      g.remove(add);
      y.name = out.name; // the Add's output name (and graph output name) lives on
      if (out.type !== undefined) y.type = out.type;
      n++;
      break;
    }
  }
  return n;
}
