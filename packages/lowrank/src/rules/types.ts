import type { Graph, Node, Value } from '@mc/ir';

/** A weight matrix W [inFeatures, outFeatures] (y = x·W) read out of a MatMul or Gemm. @internal */
export interface DenseLayer {
  kind: 'dense';
  node: Node;
  /** rows = input features */
  rows: number;
  /** cols = output features */
  cols: number;
  w: Float64Array;
  dtype: 'float32' | 'float64';
  shape: number[];
  /** the weight value the node reads (an initializer, or a Reshape of one) */
  weight: Value;
}

/** A conv kernel [Cout, Cin, S] read out of a Conv with group 1. @internal */
export interface ConvLayer {
  kind: 'conv';
  node: Node;
  cout: number;
  cin: number;
  spatial: number;
  kernel: number[];
  w: Float64Array;
  dtype: 'float32' | 'float64';
  shape: number[];
  weight: Value;
}

/** Dense factors W ≈ A·B. @internal */
export interface DenseFactors {
  a: Float64Array; // rows x k
  b: Float64Array; // k x cols
  k: number;
}

/** Tucker-2 factors; a missing side means that mode keeps full rank and gets no 1x1 conv. @internal */
export interface ConvFactors {
  /** [kIn, Cin] rows = U_inᵀ */
  first?: Float64Array;
  /** [kOut', kIn', S] */
  core: Float64Array;
  /** [Cout, kOut] = U_out */
  last?: Float64Array;
  kIn: number;
  kOut: number;
}

/** Either a layer to factorise or the reason it is passed through. @internal */
export type Inspection = { layer: DenseLayer | ConvLayer } | { skip: string };

/** What rules need to know about the model. @internal */
export interface RuleContext {
  opset: number;
  /** IR < 4: every initializer is also listed as a graph input (the format requires it), so that is no override. */
  legacyInputs: boolean;
}

/** Per-op handler. @internal */
export interface Rule {
  inspect(node: Node, ctx: RuleContext): Inspection;
  rewrite(graph: Graph, layer: DenseLayer | ConvLayer, factors: DenseFactors | ConvFactors, ctx: RuleContext): void;
}
