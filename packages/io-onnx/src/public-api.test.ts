import { expect, test } from 'vitest';

test('public surface of @mc/io-onnx', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'PROTOBUF_LIMIT',
    'externalDataFiles',
    'loadOnnx',
    'readOnnx',
    'readOnnxTensor',
    'saveOnnx',
    'writeOnnx',
    'writeOnnxTensor',
  ]);
});
