import { expect, it } from 'vitest';

it('public surface', async () => {
  expect(Object.keys(await import('@mc/quantize')).sort()).toMatchInlineSnapshot(`
    [
      "BNB4_QUANT_TYPES",
      "CALIBRATION_METHODS",
      "EMBEDDINGS_FORMS",
      "FP16_BLOCK_LIST",
      "INT4_BLOCK_SIZES",
      "INT4_CONV_BITS_DEFAULT",
      "INT4_METHODS",
      "QUANTIZE_DEFAULTS",
      "QUANTIZE_MODES",
      "ortNodeRunner",
      "quantize",
    ]
  `);
});
