import { expect, it } from 'vitest';

it('public surface of @mc/lowrank', async () => {
  expect(Object.keys(await import('../src/index.js')).sort()).toMatchInlineSnapshot(`
    [
      "factorize",
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
