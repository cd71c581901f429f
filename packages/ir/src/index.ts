export { McError, type McErrorCode, type McErrorContext, type McWarning, type McWarningCode } from './errors.js';
export { type DType, type DataTypeMap, type DTypeInfo, dtypeInfo, dtypeFromOnnx, isDType, storageBytes } from './dtype.js';
export {
  Tensor,
  type TensorInfo,
  type TensorLoader,
  toFloat32,
  toNumbers,
  float32Tensor,
  int64Tensor,
  packNibbles,
  unpackNibbles,
} from './tensor.js';
export { halfToFloat, floatToHalf, bfloat16ToFloat, floatToBfloat16, float16ToFloat32, float32ToFloat16 } from './float16.js';
export type { Dim, Shape, TypeInfo, SparseTensor } from './types.js';
export { type Attribute, attr } from './attribute.js';
export { Value, type Use } from './value.js';
export { Node, type NodeInit } from './node.js';
export { Graph, type QuantizationAnnotation } from './graph.js';
export { Model, type ModelInit, type IrFunction } from './model.js';
export { ModelBuilder } from './builder.js';
export { opInfo, registeredOps, weightOf, biasOf, paramsOf, namedInput, type WeightRef } from './ops/registry.js';
export type { OpInfo, WeightSpec, ChannelRole, ShapeContext, AttrKind, AttrName, AttrSpec, AttrSpecs, AttrTypes } from './ops/define.js';
export { slotOf, slotIndex, attrOf } from './ops/access.js';
export { reshapeTarget, reshapeDims, transposePerm } from './ops/shape.js';
export { broadcastShapes } from './ops/elementwise.js';
export { convOutDim, spatialAttrs, samePads, resolvePads } from './ops/conv.js';
export { matmulShape } from './ops/gemm.js';
export { REDUCE_OPS } from './ops/reduce.js';
export { inferShapes } from './shape-inference.js';
export { modelStats, type ModelStats, type NodeStats, type StatsOptions } from './stats.js';
export { normalizeWeights, normalizeWeightsPass, untieInput, constantTensor, type NormalizeWeightsResult } from './normalize-weights.js';
export { DEFAULT_DIM_SIZES, type AssumedDim, type DimSizesOptions } from './input-dims.js';
export { dimAdd, dimSub, dimMul, dimDiv, dimProduct, dimSymbols, evalDim, normalizeDim } from './symbolic.js';
export { runPasses, type Pass, type PassContext, type PassResult, type RunPassesOptions } from './passes.js';
export { printModel, typeText } from './print.js';
export { seededRandom, seededNormal, filledTensor, type ElementSource } from './random.js';
export { resolveNamedPath, type NamedPathContext } from './confine.js';
export { kmeans1d, type KMeansOptions, type KMeansResult } from './kernels/kmeans.js';
export { choleskyLower } from './kernels/cholesky.js';
export type { Feeds } from './feeds.js';
