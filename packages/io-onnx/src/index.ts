export { readOnnx, readOnnxTensor, type ReadOnnxOptions } from './read-onnx.js';
export { writeOnnx, writeOnnxTensor, PROTOBUF_LIMIT, type WriteOnnxOptions } from './write-onnx.js';
export { externalDataFiles, loadOnnx, saveOnnx, type SaveOnnxOptions, type SaveOnnxResult } from './load-save.js';
