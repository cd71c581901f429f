import { activation, elu, leakyRelu, prelu, relu, softmax } from './activation.js';
import { conv, convTranspose, depthwiseConv, separableConv } from './conv.js';
import { dense } from './dense.js';
import { embedding } from './embedding.js';
import { add, average, concatenate, maximum, minimum, multiply, subtract } from './merge.js';
import { batchNorm, layerNorm, normalization, rescaling } from './norm.js';
import { avgPool, globalAvgPool, globalMaxPool, maxPool } from './pool.js';
import { cropping, flatten, identity, permuteLayer, reshape, upSampling, zeroPadding } from './reshape.js';
import type { LayerHandler } from './types.js';

export { opaque } from './opaque.js';
export type { FromIrContext, KerasLayerOut, LayerGroup, LayerHandler } from './types.js';

/**
 * Every Keras layer class mc maps, by `class_name` (Keras 2, tf.keras, Keras 3 and TF.js spellings). A class not here
 * becomes an opaque `mc.keras` node.
 */
export const LAYERS: ReadonlyMap<string, LayerHandler> = new Map<string, LayerHandler>([
  ['Dense', dense],
  ['Conv1D', conv],
  ['Conv2D', conv],
  ['Conv3D', conv],
  ['Convolution1D', conv],
  ['Convolution2D', conv],
  ['DepthwiseConv1D', depthwiseConv],
  ['DepthwiseConv2D', depthwiseConv],
  ['SeparableConv1D', separableConv],
  ['SeparableConv2D', separableConv],
  ['SeparableConvolution2D', separableConv],
  ['Conv1DTranspose', convTranspose],
  ['Conv2DTranspose', convTranspose],
  ['Conv3DTranspose', convTranspose],
  ['Deconvolution2D', convTranspose],
  ['BatchNormalization', batchNorm],
  ['LayerNormalization', layerNorm],
  ['Normalization', normalization],
  ['Rescaling', rescaling],
  ['Activation', activation],
  ['ReLU', relu],
  ['LeakyReLU', leakyRelu],
  ['PReLU', prelu],
  ['ELU', elu],
  ['Softmax', softmax],
  ['MaxPooling1D', maxPool],
  ['MaxPooling2D', maxPool],
  ['MaxPooling3D', maxPool],
  ['MaxPool1D', maxPool],
  ['MaxPool2D', maxPool],
  ['AveragePooling1D', avgPool],
  ['AveragePooling2D', avgPool],
  ['AveragePooling3D', avgPool],
  ['AvgPool1D', avgPool],
  ['AvgPool2D', avgPool],
  ['GlobalMaxPooling1D', globalMaxPool],
  ['GlobalMaxPooling2D', globalMaxPool],
  ['GlobalMaxPool1D', globalMaxPool],
  ['GlobalMaxPool2D', globalMaxPool],
  ['GlobalAveragePooling1D', globalAvgPool],
  ['GlobalAveragePooling2D', globalAvgPool],
  ['GlobalAvgPool1D', globalAvgPool],
  ['GlobalAvgPool2D', globalAvgPool],
  ['Flatten', flatten],
  ['Reshape', reshape],
  ['Permute', permuteLayer],
  ['Dropout', identity],
  ['SpatialDropout1D', identity],
  ['SpatialDropout2D', identity],
  ['SpatialDropout3D', identity],
  ['GaussianNoise', identity],
  ['GaussianDropout', identity],
  ['AlphaDropout', identity],
  ['ActivityRegularization', identity],
  ['ZeroPadding1D', zeroPadding],
  ['ZeroPadding2D', zeroPadding],
  ['ZeroPadding3D', zeroPadding],
  ['Cropping1D', cropping],
  ['Cropping2D', cropping],
  ['Cropping3D', cropping],
  ['UpSampling1D', upSampling],
  ['UpSampling2D', upSampling],
  ['Add', add],
  ['Subtract', subtract],
  ['Multiply', multiply],
  ['Average', average],
  ['Maximum', maximum],
  ['Minimum', minimum],
  ['Concatenate', concatenate],
  ['Embedding', embedding],
]);
