import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared beside the checkout (real models and the ONNX conformance corpus); tests skip when it is absent. */
export const shared = resolve(fileURLToPath(import.meta.url), '../../../../../shared');
export const backendNode = resolve(shared, 'onnx-backend-node');
export const onnxModels = resolve(shared, 'models/onnx');
export const hasBackendNode = existsSync(resolve(backendNode, 'ORT_NODE_1.30.0_RESULTS.json'));
export const hasModels = existsSync(onnxModels);
