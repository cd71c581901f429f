import { expectTypeOf, test } from 'vitest';
import type { FactorizeOptions, FactorizeReport } from '../src/index.js';

test('FactorizeOptions: exactly one policy', () => {
  expectTypeOf<{ error: number }>().toMatchTypeOf<FactorizeOptions>();
  expectTypeOf<{ rank: number; seed: number }>().toMatchTypeOf<FactorizeOptions>();
  expectTypeOf<{ error: number; rank: number }>().not.toMatchTypeOf<FactorizeOptions>();
  expectTypeOf<FactorizeReport['nodes'][number]['decomposition']>().toEqualTypeOf<'exact' | 'randomized' | 'calibrated'>();
});
