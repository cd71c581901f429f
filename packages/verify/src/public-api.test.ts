import { expect, test } from 'vitest';

test('public surface of @mc/verify', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'GATE_THRESHOLDS',
    'SEGMENTED_ABOVE_BYTES',
    'SEGMENT_BYTES',
    'allclose',
    'assertFiniteWeights',
    'assertNumericallyClose',
    'checkAgreement',
    'compareModels',
    'compareOutputs',
    'compareTensor',
    'createSession',
    'createWebSession',
    'customDomainOps',
    'nonFiniteWeights',
    'onlyCatchesBrokenGraphs',
    'planSegments',
    'randomFeeds',
    'runModel',
    'segmentModel',
    'syntheticFeeds',
  ]);
});
