import { convRule } from './conv.js';
import { denseRule } from './dense.js';
import type { Rule } from './types.js';

/** Per-op handlers keyed by `domain::opType`. @internal */
export const RULES: ReadonlyMap<string, Rule> = new Map([
  ['::MatMul', denseRule],
  ['::Gemm', denseRule],
  ['::Conv', convRule],
]);

/** Weight ops mc knows but does not factorise, with the reason for the report. @internal */
export const UNSUPPORTED: ReadonlyMap<string, string> = new Map([
  ['::ConvTranspose', 'ConvTranspose is not factorised yet (its weight is [Cin, Cout/group, k…])'],
  ['::MatMulInteger', 'integer MatMul is already quantized'],
  ['::QLinearMatMul', 'quantized MatMul'],
  ['::QLinearConv', 'quantized Conv'],
  ['::ConvInteger', 'integer Conv is already quantized'],
  ['::LSTM', 'recurrent weights are not factorised'],
  ['::GRU', 'recurrent weights are not factorised'],
  ['::RNN', 'recurrent weights are not factorised'],
]);

export type { Rule } from './types.js';
