import { expect, it } from 'vitest';

it('public surface', async () => {
  expect(Object.keys(await import('@mc/quantize')).sort()).toMatchInlineSnapshot(`
    [
      "EMBEDDINGS_FORMS",
      "FP16_BLOCK_LIST",
      "INT4_METHODS",
      "QUANTIZE_MODES",
      "ortNodeRunner",
      "quantize",
    ]
  `);
});
