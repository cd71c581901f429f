/**
 * Conv (https://onnx.ai/onnx/operators/onnx__Conv.html) with group 1, any spatial rank (Conv1D, 2-D, 3-D):
 * Tucker-2 on the channel modes turns W [Cout, Cin, k…] into 1x1 (Cin→kIn) → k… core (kIn→kOut, the original strides,
 * pads, dilations and auto_pad) → 1x1 (kOut→Cout, with the bias). The first 1x1 has no bias, so it maps the core's
 * zero padding to zero and commutes with striding; a mode kept at full rank gets no 1x1 at all.
 */
import { attr, attrOf, biasOf, type Graph, Node, slotOf, type Value } from '@mc/ir';
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

type FactorData = Parameters<typeof makeTensor>[2];
type ConvAttributes = NonNullable<ConstructorParameters<typeof Node>[0]['attributes']>;

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
  // One Conv of the chain (`tucker_in`, `tucker_core`, `tucker_out`): its factor, its output and the node; the last Conv
  // of the chain takes the layer's bias.
  const conv = (part: string, dims: number[], data: FactorData, input: Value, last: boolean, attributes: ConvAttributes): Value => {
    const wv = addFactor(graph, base, `tucker_${part}`, makeTensor(dtype, dims, data), ctx);
    const out = intermediate(graph, `${outName}_tucker_${part}`, dtype);
    const inputs = last && bias !== undefined ? [input, wv, bias.value] : [input, wv];
    chain.push(
      new Node({ opType: 'Conv', name: graph.uniqueName(`${node.name || 'conv'}_tucker_${part}`), inputs, outputs: [out], attributes }),
    );
    return out;
  };
  if (f.first !== undefined) x = conv('in', [kIn, cin, ...ones], f.first, x, false, pointwise);
  const coreOut = conv('core', [kOut, kIn, ...kernel], f.core, x, f.last === undefined, new Map(node.attributes));
  if (f.last !== undefined) conv('out', [cout, kOut, ...ones], f.last, coreOut, true, pointwise);
  replaceWithChain(graph, node, chain, layer.weight);
}

/** @internal */
export const convRule: Rule = {
  inspect: inspectConv,
  rewrite: (g, l, f, ctx) => rewriteConv(g, l as ConvLayer, f as ConvFactors, ctx),
};
