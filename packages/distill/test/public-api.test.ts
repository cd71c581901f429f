import { expect, it } from 'vitest';

it('public surface', async () => {
  expect(Object.keys(await import('../src/index.js')).sort()).toMatchInlineSnapshot(`
    [
      "DISTILL_DEFAULTS",
      "TRAIN_DEFAULTS",
      "distill",
      "distillLm",
      "finetune",
      "initTraining",
      "lenet",
      "mlp",
      "mnistCnn",
      "predict",
      "reinitialize",
    ]
  `);
});
