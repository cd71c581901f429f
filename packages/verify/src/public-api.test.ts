import { expect, test } from 'vitest';

test('public surface of @mc/verify', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'allclose',
    'assertNumericallyClose',
    'compareModels',
    'compareOutputs',
    'compareTensor',
    'createSession',
    'randomFeeds',
    'runModel',
  ]);
});
