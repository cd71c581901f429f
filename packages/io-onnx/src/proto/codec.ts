import protobufjs from 'protobufjs';
import { onnxDescriptor } from './onnx-descriptor.js';
import { installTensorCodec } from './tensor-codec.js';
import type { PInt64, PModel, PTensor, PTrainingInfo, PNodeDeviceConfiguration, PDeviceConfiguration } from './types.js';

/**
 * protobufjs reflection over the JSON descriptor generated from schema/onnx.proto (no codegen step at run time).
 * Measured in docs/decisions.md: as fast as pbjs static code on packed float_data, byte-identical round trips.
 * @internal
 */
const root = protobufjs.Root.fromJSON(onnxDescriptor as unknown as protobufjs.INamespace);
installTensorCodec(root);
const ModelProto = root.lookupType('onnx.ModelProto');
const TensorProto = root.lookupType('onnx.TensorProto');
const TrainingInfoProto = root.lookupType('onnx.TrainingInfoProto');
const NodeDeviceConfigurationProto = root.lookupType('onnx.NodeDeviceConfigurationProto');
const DeviceConfigurationProto = root.lookupType('onnx.DeviceConfigurationProto');

/**
 * How deep messages may nest when mc decodes or encodes a model. protobufjs' default (100, protoc's
 * `CodedInputStream::default_recursion_limit_`) stops at about 32 nested If/Loop levels, since each subgraph level
 * costs three messages (GraphProto → NodeProto → AttributeProto); 1000 reads about 330 levels, far past real models,
 * while a pathological file still fails as a decode error before the JS stack can overflow.
 * @internal
 */
export const MAX_MESSAGE_DEPTH = 1000;

/**
 * Runs `fn` with protobufjs' recursion limits (decode: `Reader.recursionLimit`, encode: `util.recursionLimit`) raised to
 * {@link MAX_MESSAGE_DEPTH}, restoring them afterwards so other users of the same protobufjs copy see no change.
 */
function deep<T>(fn: () => T): T {
  const reader = protobufjs.Reader as unknown as { recursionLimit: number };
  const util = protobufjs.util as unknown as { recursionLimit: number };
  const before = [reader.recursionLimit, util.recursionLimit] as const;
  reader.recursionLimit = Math.max(before[0], MAX_MESSAGE_DEPTH);
  util.recursionLimit = Math.max(before[1], MAX_MESSAGE_DEPTH);
  try {
    return fn();
  } finally {
    reader.recursionLimit = before[0];
    util.recursionLimit = before[1];
  }
}

/** Decodes a ModelProto; throws whatever protobufjs throws (callers map it to McError). @internal */
export function decodeModelProto(bytes: Uint8Array): PModel {
  // Keep fields this schema does not know (protobufjs' `$unknowns`), per reader, leaving the global default alone.
  const r = protobufjs.Reader.create(bytes);
  r.discardUnknown = false;
  return deep(() => ModelProto.decode(r) as unknown as PModel);
}

/**
 * Encodes a plain ModelProto-shaped object (only own, non-null fields are written). `sizeHint` (bytes) pre-sizes the
 * writer's buffer: protobufjs otherwise grows it by doubling, copying a large model several times.
 * @internal
 */
export function encodeModelProto(model: PModel, sizeHint = 0): Uint8Array {
  const w = protobufjs.Writer.create();
  if (sizeHint > 1 << 20) (w as unknown as { buf: Uint8Array }).buf = Buffer.allocUnsafe(sizeHint);
  return deep(() => ModelProto.encode(model as unknown as protobufjs.Message, w).finish(true));
}

/** @internal */
export function decodeTensorProto(bytes: Uint8Array): PTensor {
  return TensorProto.decode(bytes) as unknown as PTensor;
}

/** @internal */
export function encodeTensorProto(t: PTensor): Uint8Array {
  return TensorProto.encode(t as unknown as protobufjs.Message).finish();
}

/** @internal */
export function encodeTrainingInfo(t: PTrainingInfo): Uint8Array {
  return deep(() => TrainingInfoProto.encode(t as unknown as protobufjs.Message).finish());
}

/** @internal */
export function decodeTrainingInfo(b: Uint8Array): PTrainingInfo {
  return deep(() => TrainingInfoProto.decode(b) as unknown as PTrainingInfo);
}

/** @internal */
export function encodeNodeDeviceConfiguration(t: PNodeDeviceConfiguration): Uint8Array {
  return NodeDeviceConfigurationProto.encode(t as unknown as protobufjs.Message).finish();
}

/** @internal */
export function decodeNodeDeviceConfiguration(b: Uint8Array): PNodeDeviceConfiguration {
  return NodeDeviceConfigurationProto.decode(b) as unknown as PNodeDeviceConfiguration;
}

/** @internal */
export function encodeDeviceConfiguration(t: PDeviceConfiguration): Uint8Array {
  return DeviceConfigurationProto.encode(t as unknown as protobufjs.Message).finish();
}

/** @internal */
export function decodeDeviceConfiguration(b: Uint8Array): PDeviceConfiguration {
  return DeviceConfigurationProto.decode(b) as unknown as PDeviceConfiguration;
}

/** Exact int64 from a decoded field (Long-like or number). @internal */
export function toBigInt(v: PInt64 | null | undefined): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number') return BigInt(v);
  const lo = BigInt(v.low >>> 0);
  const hi = BigInt(v.high >>> 0);
  const u = (hi << 32n) | lo;
  return v.unsigned === true ? u : BigInt.asIntN(64, u);
}

/** Exact uint64 from a decoded field. @internal */
export function toBigUint(v: PInt64 | null | undefined): bigint {
  return BigInt.asUintN(64, toBigInt(v));
}

/** int64 as a JS number; callers use it only where the spec bounds the value (dims, versions). @internal */
export function toNumber(v: PInt64 | null | undefined): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  return Number(toBigInt(v));
}

/** A bigint as the {low, high} pair protobufjs writes exactly (numbers lose bits past 2^53). @internal */
export function fromBigInt(v: bigint): PInt64 {
  const u = BigInt.asUintN(64, v);
  const low = Number(u & 0xffffffffn) | 0;
  const high = Number(u >> 32n) | 0;
  if (high === 0 && low >= 0) return low;
  if (high === -1 && low < 0) return low;
  return { low, high, unsigned: false };
}

/** Own, non-null field test (proto2 presence as protobufjs records it). @internal */
export function has<T extends object>(m: T, key: keyof T): boolean {
  return Object.hasOwn(m, key) && m[key] !== null && m[key] !== undefined;
}
