import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SHARED_DIR } from '../../../test-support/shared.js';

/** ../shared beside the checkout (real models and the ONNX conformance corpus); tests skip when it is absent. */
export const shared = SHARED_DIR;
export const backendNode = resolve(shared, 'onnx-backend-node');
export const onnxModels = resolve(shared, 'models/onnx');
export const hasBackendNode = existsSync(resolve(backendNode, 'ORT_NODE_1.30.0_RESULTS.json'));
export const hasModels = existsSync(onnxModels);
