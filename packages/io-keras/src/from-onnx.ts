import { attrOf, McError, type Model, type Node, slotOf, Tensor, toFloat32, type Value } from '@mc/ir';
import type { KerasLayerConfigJson } from './keras-format.js';
import type { KerasGraph, KerasLayer, KerasTensorRef } from './keras-graph.js';

/**
 * Standard-op models from other exporters (no `keras.layer` tags), written as a chain of standard Keras layers:
 * Conv (group 1), BatchNormalization, MaxPool/AveragePool, GlobalAveragePool, Flatten/Reshape to [N, -1],
 * MatMul/Gemm with constant weights, a constant Add folded into the bias before it, Relu/Sigmoid/Tanh/Softmax/Elu,
 * Identity/Dropout. ONNX images are NCHW and Keras layers NHWC, so the Keras model takes NHWC input: kernels are
 * transposed, and the first Dense after a Flatten gets its rows reordered from C,H,W to H,W,C. Anything else is
 * refused naming the node, its op and why.
 * @internal
 */
export function foreignToKeras(model: Model, file: string, constant: (v: Value | undefined) => Tensor | undefined): KerasGraph {
  const g = model.graph;
  const refuse = (n: Node | undefined, why: string): McError =>
    new McError(
      'E_UNSUPPORTED',
      `${n === undefined ? 'the graph' : `node '${n.name}' (${n.opType})`} cannot be written as a Keras layer: ${why}; ` +
        `export it as ONNX instead (writing ${file})`,
      { context: { file, ...(n && { node: n.name, opType: n.opType }) } },
    );
  const inputs = g.inputs.filter((v) => !v.isInitializer());
  if (inputs.length !== 1 || g.outputs.length !== 1)
    throw refuse(undefined, 'only one input and one output are written (a chain of layers)');
  const input = inputs[0]!;
  const dims = (input.shape ?? []).map((d) => (typeof d === 'number' ? d : null));
  if (dims.length !== 4 && dims.length !== 2)
    throw refuse(undefined, `input '${input.name}' has rank ${dims.length}; NCHW images or [N, features] are written`);
  const layers: KerasLayer[] = [];
  const used = new Set<string>();
  const nameOf = (base: string): string => {
    const b = base.replace(/[^A-Za-z0-9_.-]/g, '_') || 'layer';
    let n = b;
    for (let i = 1; used.has(n); i++) n = `${b}_${i}`;
    used.add(n);
    return n;
  };
  const inputName = nameOf(input.name);
  const shape = [null, ...dims.slice(1)];
  layers.push({
    className: 'InputLayer',
    name: inputName,
    config: { batch_input_shape: shape, dtype: 'float32', sparse: false, name: inputName },
    calls: [],
    weights: [],
    weightNames: [],
  });
  let cur: Value = input;
  let ref: KerasTensorRef = { layer: inputName, node: 0, tensor: 0 };
  // What the current Keras tensor is: an NHWC image, a vector, or a vector flattened from C,H,W (Keras: H,W,C).
  let state: { kind: 'image' } | { kind: 'vector' } | { kind: 'flat'; c: number; h: number; w: number } =
    dims.length === 4 ? { kind: 'image' } : { kind: 'vector' };
  let last: KerasLayer | undefined;
  const add = (n: Node, className: string, config: KerasLayerConfigJson, weights: [string, Tensor][] = []): KerasLayer => {
    const name = nameOf(n.name || n.outputs[0]?.name || className.toLowerCase());
    const layer: KerasLayer = {
      className,
      name,
      config: { ...config, name, trainable: true, dtype: 'float32' },
      calls: [{ inputs: [ref], kwargs: {} }],
      weights: weights.map(([, t]) => t),
      weightNames: weights.map(([w]) => w),
    };
    layers.push(layer);
    ref = { layer: name, node: 0, tensor: 0 };
    last = layer;
    return layer;
  };
  if (dims.length === 4) {
    // The Keras model takes the same NCHW tensor as the ONNX one and turns it NHWC for the channels_last layers.
    const name = nameOf(`${inputName}_nhwc`);
    layers.push({
      className: 'Permute',
      name,
      config: { name, trainable: false, dtype: 'float32', dims: [2, 3, 1] },
      calls: [{ inputs: [ref], kwargs: {} }],
      weights: [],
      weightNames: [],
    });
    ref = { layer: name, node: 0, tensor: 0 };
  }
  const f32 = (t: Tensor): Float32Array => Float32Array.from(toFloat32(t));
  const ints = (n: Node, a: string, d: number[]): number[] =>
    ((n.attributes.get(a)?.value as (number | bigint)[] | undefined) ?? d).map(Number);

  for (const n of g.nodes) {
    if (n.outputs.every((o) => !o.isGraphOutput() && constant(o) !== undefined)) continue; // folds into a weight
    const data = n.inputs.filter((v): v is Value => v !== undefined && constant(v) === undefined);
    if (data.length !== 1 || data[0] !== cur)
      throw refuse(
        n,
        `it takes ${data.length === 1 ? "a tensor other than the previous node's output" : `${data.length} runtime inputs`}; only chains are written`,
      );
    const out = n.outputs[0]!;
    const canFuse = last !== undefined && last.config.activation === 'linear' && cur.uses().length === 1 && !cur.isGraphOutput();
    switch (n.opType) {
      case 'Identity':
      case 'Dropout':
        break;
      case 'Conv': {
        if (state.kind !== 'image') throw refuse(n, 'its input is not an image');
        const w = constant(slotOf(n, 'W'));
        if (w === undefined || w.dims.length !== 4) throw refuse(n, 'its weight is not a constant 4-D kernel');
        if ((attrOf(n, 'group') as number) !== 1) throw refuse(n, 'grouped convolutions are not written yet');
        const [o, i, kh, kw] = w.dims as [number, number, number, number];
        const src = f32(w);
        const k = new Float32Array(src.length); // [O,I,kh,kw] → [kh,kw,I,O]
        for (let a = 0; a < o; a++)
          for (let b = 0; b < i; b++)
            for (let y = 0; y < kh; y++)
              for (let x = 0; x < kw; x++) k[((y * kw + x) * i + b) * o + a] = src[((a * i + b) * kh + y) * kw + x]!;
        const strides = ints(n, 'strides', [1, 1]);
        const dil = ints(n, 'dilations', [1, 1]);
        const padding = padOf(n, [kh, kw], strides, dil, refuse, (pads) => {
          add(n, 'ZeroPadding2D', {
            padding: [
              [pads[0]!, pads[2]!],
              [pads[1]!, pads[3]!],
            ],
            data_format: 'channels_last',
          });
        });
        const b = constant(slotOf(n, 'B'));
        const weights: [string, Tensor][] = [['kernel', new Tensor('float32', [kh, kw, i, o], k)]];
        weights.push(['bias', new Tensor('float32', [o], b === undefined ? new Float32Array(o) : f32(b))]);
        add(
          n,
          'Conv2D',
          {
            filters: o,
            kernel_size: [kh, kw],
            strides,
            padding,
            data_format: 'channels_last',
            dilation_rate: dil,
            groups: 1,
            activation: 'linear',
            use_bias: true,
          },
          weights,
        );
        break;
      }
      case 'Add':
      case 'Sum': {
        const c = n.inputs.map((v) => constant(v)).find((t) => t !== undefined);
        const bias = last?.weightNames.indexOf('bias') ?? -1;
        const units = bias < 0 ? 0 : last!.weights[bias]!.size;
        const ok =
          c !== undefined && canFuse && bias >= 0 && c.size === units && c.dims.slice(state.kind === 'image' ? -3 : -1)[0] === units;
        if (!ok) throw refuse(n, 'only a constant per-channel Add right after a Conv or MatMul (folded into its bias) is written');
        const b = last!.weights[bias]!;
        const sum = f32(b).map((x, j) => x + f32(c!)[j]!);
        last!.weights[bias] = new Tensor('float32', b.dims, sum);
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
      case 'Elu':
      case 'Softmax': {
        const act = { Relu: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh', Elu: 'elu', Softmax: 'softmax' }[n.opType]!;
        if (n.opType === 'Softmax' && state.kind === 'image') throw refuse(n, 'softmax over NCHW channels is not written');
        if (n.opType === 'Elu' && (n.attributes.get('alpha')?.value ?? 1) !== 1) throw refuse(n, 'alpha other than 1 is not written');
        if (canFuse && last!.className !== 'InputLayer') last!.config.activation = act;
        else add(n, 'Activation', { activation: act });
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        if (state.kind !== 'image') throw refuse(n, 'its input is not an image');
        const k = ints(n, 'kernel_shape', []);
        if (k.length !== 2) throw refuse(n, 'only 2-D pooling is written');
        if (ints(n, 'pads', [0, 0, 0, 0]).some((p) => p !== 0) || !['NOTSET', 'VALID'].includes(String(attrOf(n, 'auto_pad') ?? 'NOTSET')))
          throw refuse(n, 'padded pooling is not written');
        if (ints(n, 'dilations', [1, 1]).some((d) => d !== 1) || attrOf(n, 'ceil_mode') === 1)
          throw refuse(n, 'dilated or ceil_mode pooling is not written');
        add(n, n.opType === 'MaxPool' ? 'MaxPooling2D' : 'AveragePooling2D', {
          pool_size: k,
          strides: ints(n, 'strides', [1, 1]),
          padding: 'valid',
          data_format: 'channels_last',
        });
        break;
      }
      case 'GlobalAveragePool':
      case 'GlobalMaxPool':
        if (state.kind !== 'image') throw refuse(n, 'its input is not an image');
        add(n, n.opType === 'GlobalAveragePool' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D', {
          data_format: 'channels_last',
          keepdims: false,
        });
        state = { kind: 'vector' }; // [N,C,1,1] in ONNX, [N,C] in Keras: the same order
        break;
      case 'BatchNormalization': {
        const [s, b, m, v] = ['scale', 'B', 'input_mean', 'input_var'].map((k) => constant(slotOf(n, k)));
        if (!s || !b || !m || !v) throw refuse(n, 'its scale, bias, mean and variance are not constants');
        add(n, 'BatchNormalization', { axis: -1, epsilon: attrOf(n, 'epsilon') as number, momentum: 0.99, center: true, scale: true }, [
          ['gamma', new Tensor('float32', [s.size], f32(s))],
          ['beta', new Tensor('float32', [b.size], f32(b))],
          ['moving_mean', new Tensor('float32', [m.size], f32(m))],
          ['moving_variance', new Tensor('float32', [v.size], f32(v))],
        ]);
        break;
      }
      case 'Flatten':
      case 'Reshape': {
        const to = out.shape;
        const from = cur.shape;
        const flat = to?.length === 2 && (n.opType === 'Reshape' || (attrOf(n, 'axis') ?? 1) === 1);
        if (!flat) throw refuse(n, 'only a flatten to [N, features] is written');
        if (state.kind === 'image') {
          const [, c, h, w] = (from ?? []) as number[];
          if (![c, h, w].every((d) => typeof d === 'number')) throw refuse(n, 'the image size before it is not known');
          add(n, 'Flatten', { data_format: 'channels_last' });
          state = { kind: 'flat', c: c!, h: h!, w: w! };
        }
        break;
      }
      case 'MatMul':
      case 'Gemm': {
        if (state.kind === 'image') throw refuse(n, 'its input is an image; flatten it first');
        const isGemm = n.opType === 'Gemm';
        const w = constant(slotOf(n, 'B'));
        if (w === undefined || w.dims.length !== 2) throw refuse(n, 'its weight is not a constant matrix');
        if (isGemm && (attrOf(n, 'transA') === 1 || attrOf(n, 'alpha') !== 1 || attrOf(n, 'beta') !== 1))
          throw refuse(n, 'Gemm with transA, alpha or beta other than 1 is not written');
        const transB = isGemm && attrOf(n, 'transB') === 1;
        const [r, c] = (transB ? [w.dims[1], w.dims[0]] : w.dims) as [number, number];
        const src = f32(w);
        const kernel = new Float32Array(r * c);
        const s = state;
        for (let row = 0; row < r; row++) {
          // The Keras row (h, w, ch) reads the ONNX row (ch, h, w) of the same feature.
          let from = row;
          if (s.kind === 'flat') {
            const ch = row % s.c;
            const hw = (row - ch) / s.c;
            from = ch * s.h * s.w + hw;
          }
          for (let col = 0; col < c; col++) kernel[row * c + col] = transB ? src[col * r + from]! : src[from * c + col]!;
        }
        const cc = isGemm ? constant(slotOf(n, 'C')) : undefined;
        if (cc !== undefined && cc.size !== c) throw refuse(n, 'its bias does not have one value per output');
        add(n, 'Dense', { units: c, activation: 'linear', use_bias: true }, [
          ['kernel', new Tensor('float32', [r, c], kernel)],
          ['bias', new Tensor('float32', [c], cc === undefined ? new Float32Array(c) : f32(cc))],
        ]);
        state = { kind: 'vector' };
        break;
      }
      default:
        throw refuse(
          n,
          `${n.opType} has no Keras layer mc writes (written: Conv, BatchNormalization, MaxPool, AveragePool, GlobalAveragePool, Flatten, MatMul, Gemm, Add into a bias, Relu, Sigmoid, Tanh, Elu, Softmax)`,
        );
    }
    cur = out;
  }
  if (g.outputs[0] !== cur) throw refuse(undefined, `output '${g.outputs[0]!.name}' is not the end of the chain`);
  // The Keras output is named by its layer: the last layer takes the ONNX output's name where it is free.
  const final = layers.find((l) => l.name === ref.layer)!;
  const outName = g.outputs[0]!.name.replace(/[^A-Za-z0-9_.-]/g, '_');
  if (final.className !== 'InputLayer' && outName !== '' && !used.has(outName)) {
    final.name = outName;
    final.config = { ...final.config, name: outName };
    ref = { layer: outName, node: 0, tensor: 0 };
  }
  return { name: g.name || 'model', layers, inputs: [{ layer: inputName, node: 0, tensor: 0 }], outputs: [ref], className: 'Functional' };
}

/** Keras padding of a Conv: 'valid', 'same' (stride 1, SAME_UPPER-sized pads), or explicit pads via `zeroPad`. */
function padOf(
  n: Node,
  k: number[],
  strides: number[],
  dil: number[],
  refuse: (n: Node, why: string) => McError,
  zeroPad: (pads: number[]) => void,
): string {
  const auto = String(attrOf(n, 'auto_pad') ?? 'NOTSET');
  const total = k.map((x, i) => dil[i]! * (x - 1));
  const same = total.flatMap((t) => [Math.floor(t / 2), t - Math.floor(t / 2)]);
  if (auto === 'VALID') return 'valid';
  if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    if (strides.some((s) => s !== 1)) throw refuse(n, `${auto} with strides other than 1 is not written`);
    if (auto === 'SAME_LOWER' && total.some((t) => t % 2 === 1)) throw refuse(n, 'SAME_LOWER with an odd total pad is not written');
    return 'same';
  }
  const pads = ((n.attributes.get('pads')?.value as (number | bigint)[] | undefined) ?? [0, 0, 0, 0]).map(Number);
  if (pads.every((p) => p === 0)) return 'valid';
  // ONNX pads are [top, left, bottom, right]; Keras 'same' at stride 1 pads floor(t/2) before, the rest after.
  if (strides.every((s) => s === 1) && pads[0] === same[0] && pads[2] === same[1] && pads[1] === same[2] && pads[3] === same[3])
    return 'same';
  zeroPad(pads);
  return 'valid';
}
