import { type Model, type Node, Tensor, type Value, attr, biasOf, toFloat32, attrOf, slotOf } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf, isExcluded } from '../graph-utils.js';
import { transpose2d } from '../kernels/block.js';
import { computeQParams, qRange, type QParams } from '../kernels/qparams.js';
import type { Int8DynamicOptions } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { channelRanges, int8Codes } from './int8-weights.js';
import { weightedNodes } from './weights.js';

/**
 * Dynamic int8 (as onnxruntime.quantization.quantize_dynamic): activations are quantized at run time by
 * DynamicQuantizeLinear (uint8, per tensor), weights ahead of time, and the product runs in integers:
 *
 *   y = MatMulInteger(x_q, W_q, x_zp, W_zp) · (x_scale · W_scale)   (Conv: ConvInteger, same scaling)
 *
 * Weights are int8 symmetric (zero point 0) for onnxruntime's CPU provider and uint8 asymmetric for `target:
 * 'ort-web'`, whose ConvInteger has no int8-weight kernel. Gemm becomes MatMulInteger plus an Add of beta·C; MatMul
 * weights may be per column (`perChannel`); Conv weights are always per output channel and symmetric, so that one
 * zero point serves every channel (ConvInteger's zero point is a scalar in onnxruntime) and the channel scales multiply
 * the integer result. Bias stays float32.
 * @internal
 */
export function quantizeInt8Dynamic(model: Model, opts: Int8DynamicOptions, emit: Emitter, report: ReportBuilder): void {
  const g = model.graph;
  const web = opts.target === 'ort-web';
  const qtype = web ? 'uint8' : 'int8';
  const wopts = { symmetric: !web, reduceRange: opts.reduceRange ?? false };
  const dql = new Map<Value, Value[]>(); // activation → [x_q, x_scale, x_zp]
  for (const { node, w } of weightedNodes(model, report, 'not a MatMul/Gemm/Conv with a constant weight')) {
    const t = w.tensor;
    const why = isExcluded(node, opts.exclude)
      ? 'excluded by option'
      : !['MatMul', 'Gemm', 'Conv'].includes(node.opType)
        ? `${node.opType} has no integer form in onnxruntime`
        : t === undefined || !w.value.isInitializer() || t.dtype !== 'float32'
          ? `weight '${w.value.name}' is not a float32 initializer`
          : node.opType !== 'Conv' && t.dims.length !== 2
            ? 'weight is not 2-D'
            : node.opType === 'Gemm' && (attrOf(node, 'transA') !== 0 || attrOf(node, 'alpha') !== 1)
              ? 'Gemm with transA=1 or alpha != 1'
              : undefined;
    if (why !== undefined) {
      report.pass(node, why);
      continue;
    }
    const x = slotOf(node, 'input')!;
    let xq = dql.get(x);
    if (xq === undefined) {
      const at = x.producer() === undefined ? g.nodes[0]! : node;
      xq = emit.node(at, 'DynamicQuantizeLinear', [x], {
        name: `${x.name}_DynamicQuantizeLinear`,
        outputs: 3,
        dtypes: ['uint8', 'float32', 'uint8'],
      });
      dql.set(x, xq);
    }
    const isConv = node.opType === 'Conv';
    // weight as [K, N] for MatMul/Gemm (transB=1 transposed), OIHW for Conv
    const transB = node.opType === 'Gemm' && attrOf(node, 'transB') === 1;
    const read = (): Float32Array => (transB ? transpose2d(toFloat32(t!), t!.dims[0]!, t!.dims[1]!) : toFloat32(t!));
    const data = read();
    const dims = transB ? [t!.dims[1]!, t!.dims[0]!] : t!.dims;
    // Conv: per output channel, symmetric, so every channel shares one zero point (ConvInteger's is a scalar) and the
    // channel scales apply after the integer convolution. Per-tensor Conv weights lose the small channels of folded
    // BatchNorm/depthwise layers (PP-OCRv4 rec: 0/100 lines read with per-tensor, 100/100 per channel).
    const axis = isConv ? 0 : opts.perChannel === true ? 1 : undefined;
    const { mins, maxs } = channelRanges(data, dims, axis);
    const params: QParams[] = Array.from(mins, (lo, c) =>
      computeQParams(lo, maxs[c]!, qtype, isConv ? { ...wopts, symmetric: true } : wopts),
    );
    const { tensor: wq, maxAbsError: maxErr } = int8Codes(data, read, t!.isLazy, dims, axis, params, qtype, qRange(qtype, wopts));
    const per = axis !== undefined;
    const zps = isConv ? params.slice(0, 1) : params;
    const zp = new Tensor(
      qtype,
      per && !isConv ? [params.length] : [],
      (qtype === 'int8' ? Int8Array.from(zps, (p) => p.zeroPoint) : Uint8Array.from(zps, (p) => p.zeroPoint)) as never,
    );
    const scaleDims = !per ? [] : isConv ? [1, params.length, ...Array(dims.length - 2).fill(1)] : [params.length];
    const ws = new Tensor(
      'float32',
      scaleDims,
      Float32Array.from(params, (p) => p.scale),
    );
    const base = w.value.name;
    const ins = [xq[0]!, emit.init(`${base}_quantized`, wq), xq[2]!, emit.init(`${base}_zero_point`, zp)];
    const attrs = isConv ? Object.fromEntries([...node.attributes].filter(([k]) => k !== 'B')) : {};
    const [acc] = emit.node(node, isConv ? 'ConvInteger' : 'MatMulInteger', ins, {
      name: `${node.name || node.opType}_${isConv ? 'ConvInteger' : 'MatMulInteger'}`,
      attrs,
      dtypes: ['int32'],
    });
    const [accF] = emit.node(node, 'Cast', [acc!], {
      name: `${node.name || node.opType}_cast`,
      attrs: { to: attr.int(1) },
      dtypes: ['float32'],
    });
    const [scale] = emit.node(node, 'Mul', [xq[1]!, emit.init(`${base}_scale`, ws)], {
      name: `${node.name || node.opType}_scale`,
      dtypes: ['float32'],
    });
    let [y] = emit.node(node, 'Mul', [accF!, scale!], { name: `${node.name || node.opType}_rescale`, dtypes: ['float32'] });
    const b = biasOf(node);
    if (b !== undefined) {
      let bias: Value = b.value;
      if (isConv) {
        const bt = b.tensor;
        if (bt !== undefined && b.value.isInitializer()) {
          bias = emit.init(`${b.value.name}_nc11`, new Tensor('float32', [1, bt.size, ...Array(dims.length - 2).fill(1)], toFloat32(bt)));
        } else {
          [bias] = emit.node(
            node,
            'Reshape',
            [
              b.value,
              emit.init(
                `${node.name}_bias_shape`,
                new Tensor('int64', [dims.length], BigInt64Array.from([1n, -1n, ...Array(dims.length - 2).fill(1n)])),
              ),
            ],
            { name: `${node.name}_bias_reshape` },
          );
        }
      } else {
        const beta = attrOf(node, 'beta');
        if (beta !== 1 && b.tensor !== undefined)
          bias = emit.init(
            `${b.value.name}_beta`,
            new Tensor(
              'float32',
              b.tensor.dims,
              toFloat32(b.tensor).map((v) => v * beta),
            ),
          );
      }
      [y] = emit.node(node, 'Add', [y!, bias!], { name: `${node.name || node.opType}_bias`, dtypes: ['float32'] });
    }
    y!.shape = node.outputs[0]!.shape;
    node.outputs[0]!.replaceAllUsesWith(y!, { graphOutputs: true });
    removeNode(g, node);
    report.done(
      node,
      `${isConv ? 'ConvInteger' : 'MatMulInteger'} ${qtype} weight ${per ? 'per-channel' : 'per-tensor'}`,
      t!.byteLength,
      bytesOf(wq, zp, ws),
      maxErr,
    );
  }
}

function removeNode(g: Model['graph'], node: Node): void {
  const olds = node.inputs.filter((v): v is Value => v !== undefined && v.isInitializer());
  g.remove(node);
  for (const v of olds) if (v.uses().length === 0 && !g.outputs.includes(v)) g.removeInitializer(v.name);
}
