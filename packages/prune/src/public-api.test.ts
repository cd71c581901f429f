import { expect, test } from 'vitest';

test('public surface of @mc/prune', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'PRUNE_DEFAULTS',
    'RECONSTRUCT_DEFAULTS',
    'bnImportance',
    'foldBatchNormPass',
    'indexTypeFor',
    'l1Importance',
    'l2Importance',
    'prune',
    'pruneMasks',
    'reconstruct',
    'restoreMasks',
    'storePruned',
    'unstorePruned',
  ]);
});
