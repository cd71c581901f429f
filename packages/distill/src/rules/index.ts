import { convRule } from './conv.js';
import { gemmRule, matMulRule } from './dense.js';
import { elementwiseRules } from './elementwise.js';
import { avgPoolRule, globalPoolRule, maxPoolRule } from './pool.js';
import { shapeRules } from './shape.js';
import type { Rule } from './types.js';

/** The ops mc can train, by ONNX op type (domain ''). @internal */
export const rules: ReadonlyMap<string, Rule> = new Map<string, Rule>([
  ['Conv', convRule],
  ['Gemm', gemmRule],
  ['MatMul', matMulRule],
  ['MaxPool', maxPoolRule],
  ['AveragePool', avgPoolRule],
  ['GlobalAveragePool', globalPoolRule('avg')],
  ['GlobalMaxPool', globalPoolRule('max')],
  ...elementwiseRules,
  ...shapeRules,
]);

export type { Rule, RuleContext } from './types.js';
