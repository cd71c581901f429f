import { expect, it } from 'vitest';

it('public surface of @mc/lowrank', async () => {
  expect(Object.keys(await import('../src/index.js')).sort()).toMatchInlineSnapshot(`
    [
      "FACTORIZE_DEFAULTS",
      "FACTORIZE_POLICIES",
      "factorize",
      "factorizePolicy",
      "jsEngine",
      "reconstructTucker2",
      "rsvd",
      "svd",
      "tfjsWasmEngine",
      "truncate",
      "tucker2",
    ]
  `);
});
