import { expect, test } from 'vitest';

test('public surface of @mc/io-keras', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'KERAS_DOMAIN',
    'KERAS_LAYER_KEY',
    'KERAS_LAYOUT_KEY',
    'KERAS_MODEL_KEY',
    'KERAS_OPSET',
    'KNOWN_ACTIVATIONS',
    'loadKeras',
    'readKeras',
    'saveKeras',
  ]);
});
