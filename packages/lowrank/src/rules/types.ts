import type { Graph, Node } from '@mc/ir';

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

/** Per-op handler. @internal */
export interface Rule {
  inspect(node: Node): Inspection;
  rewrite(graph: Graph, layer: DenseLayer | ConvLayer, factors: DenseFactors | ConvFactors, opset: number): void;
}
