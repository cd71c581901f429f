/**
 * Conv (https://onnx.ai/onnx/operators/onnx__Conv.html) with group 1, any spatial rank (Conv1D, 2-D, 3-D):
 * Tucker-2 on the channel modes turns W [Cout, Cin, k…] into 1x1 (Cin→kIn) → k… core (kIn→kOut, the original strides,
 * pads, dilations and auto_pad) → 1x1 (kOut→Cout, with the bias). The first 1x1 has no bias, so it maps the core's
 * zero padding to zero and commutes with striding; a mode kept at full rank gets no 1x1 at all.
 */
import { attr, attrOf, biasOf, type Graph, Node, slotOf } from '@mc/ir';
import { addFactor, constWeight, intermediate, replaceWithChain } from './common.js';
import type { ConvFactors, ConvLayer, Inspection, Rule, RuleContext } from './types.js';
import { makeTensor, readWeight } from './weights.js';

function inspectConv(node: Node, ctx: RuleContext): Inspection {
  const group = attrOf(node, 'group');
  const ref = constWeight(node, 'W', ctx);
  if ('skip' in ref) return ref;
  const t = ref.tensor;
  if (group !== 1) {
    return { skip: `grouped conv (group ${group}${group === t.dims[0] ? ', depthwise' : ''}): factorising per group is not implemented` };
  }
  if (t.dims.length < 3) return { skip: `weight has rank ${t.dims.length}; a Conv kernel needs [Cout, Cin, k…]` };
  const read = readWeight(t);
  if (read === undefined) return { skip: `weight dtype ${t.dtype} is not float32/float64` };
  const [cout, cin, ...kernel] = t.dims as number[];
  const spatial = kernel.reduce((a, b) => a * b, 1);
  const layer: ConvLayer = {
    kind: 'conv',
    node,
    cout: cout!,
    cin: cin!,
    spatial,
    kernel,
    w: read.w,
    dtype: read.dtype,
    shape: [...t.dims],
    weight: ref.value,
  };
  return { layer };
}

function rewriteConv(graph: Graph, layer: ConvLayer, f: ConvFactors, ctx: RuleContext): void {
  const { node, cout, cin, kernel, dtype } = layer;
  const bias = biasOf(node);
  const base = layer.weight.name;
  const ones = kernel.map(() => 1);
  const pointwise = { kernel_shape: attr.ints(ones) };
  const chain: Node[] = [];
  const outName = node.outputs[0]!.name;
  let x = slotOf(node, 'X')!;
  const kIn = f.first === undefined ? cin : f.kIn;
  const kOut = f.last === undefined ? cout : f.kOut;
  if (f.first !== undefined) {
    const wv = addFactor(graph, base, 'tucker_in', makeTensor(dtype, [kIn, cin, ...ones], f.first), ctx);
    const h = intermediate(graph, `${outName}_tucker_in`, dtype);
    chain.push(
      new Node({
        opType: 'Conv',
        name: graph.uniqueName(`${node.name || 'conv'}_tucker_in`),
        inputs: [x, wv],
        outputs: [h],
        attributes: pointwise,
      }),
    );
    x = h;
  }
  const coreW = addFactor(graph, base, 'tucker_core', makeTensor(dtype, [kOut, kIn, ...kernel], f.core), ctx);
  const coreOut = intermediate(graph, `${outName}_tucker_core`, dtype);
  const coreAttrs = new Map(node.attributes);
  chain.push(
    new Node({
      opType: 'Conv',
      name: graph.uniqueName(`${node.name || 'conv'}_tucker_core`),
      inputs: f.last === undefined && bias !== undefined ? [x, coreW, bias.value] : [x, coreW],
      outputs: [coreOut],
      attributes: coreAttrs,
    }),
  );
  if (f.last !== undefined) {
    const wv = addFactor(graph, base, 'tucker_out', makeTensor(dtype, [cout, kOut, ...ones], f.last), ctx);
    const out = intermediate(graph, `${outName}_tucker_out`, dtype);
    chain.push(
      new Node({
        opType: 'Conv',
        name: graph.uniqueName(`${node.name || 'conv'}_tucker_out`),
        inputs: bias === undefined ? [coreOut, wv] : [coreOut, wv, bias.value],
        outputs: [out],
        attributes: pointwise,
      }),
    );
  }
  replaceWithChain(graph, node, chain, layer.weight);
}

/** @internal */
export const convRule: Rule = {
  inspect: inspectConv,
  rewrite: (g, l, f, ctx) => rewriteConv(g, l as ConvLayer, f as ConvFactors, ctx),
};
