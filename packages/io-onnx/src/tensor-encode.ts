import { dtypeInfo, McError, type Tensor } from '@mc/ir';
import { fromBigInt } from './proto/codec.js';
import type { PStringStringEntry, PTensor } from './proto/types.js';

/**
 * Decides where a tensor's bytes go when writing: `undefined` keeps them inside the protobuf; an entry list
 * (location/offset/length) means the caller has written them to an external file.
 * @internal
 */
export type Externalize = (t: Tensor, name: string, role: TensorRole) => PStringStringEntry[] | undefined;

/** Where a tensor sits: graph initializers, or attribute values (Constant nodes, ...), which runtimes read during
 * shape inference and so are kept inline unless they were external in the file. @internal */
export type TensorRole = 'initializer' | 'attribute';

/** @internal */
export function mapToEntries(m: ReadonlyMap<string, string> | undefined): PStringStringEntry[] {
  return m === undefined ? [] : [...m].map(([key, value]) => ({ key, value }));
}

/** Little-endian bytes of a tensor (a view where possible; the machine is little-endian). @internal */
export function tensorBytes(t: Tensor): Uint8Array {
  const d = t.data as unknown;
  if (t.dtype === 'string') throw new McError('E_INVARIANT', 'string tensors have no raw bytes');
  const v = d as ArrayBufferView;
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Tensor -> TensorProto. The storage form recorded at read time (`info.storage`: raw_data or the typed field) is
 * kept, so a read-write round trip gives the same message; new tensors use raw_data (strings: string_data).
 * @internal
 */
export function writeTensor(t: Tensor, name: string | undefined, externalize?: Externalize, role: TensorRole = 'initializer'): PTensor {
  const info = t.info;
  const extra = (info.extra ?? {}) as {
    name?: string;
    segment?: { begin: bigint; end: bigint };
    dataLocation?: number;
    unknownFields?: Uint8Array[];
  };
  const p: PTensor = { dims: t.dims.map((d) => fromBigInt(BigInt(d))), data_type: dtypeInfo(t.dtype).onnx };
  if (extra.segment !== undefined) p.segment = { begin: fromBigInt(extra.segment.begin), end: fromBigInt(extra.segment.end) };
  const n = name ?? extra.name;
  if (n !== undefined) p.name = n;
  if (info.docString !== undefined) p.doc_string = info.docString;
  if (info.metadataProps !== undefined && info.metadataProps.size > 0) p.metadata_props = mapToEntries(info.metadataProps);
  if (extra.unknownFields !== undefined) p.$unknowns = extra.unknownFields;

  const ext = t.dtype === 'string' || externalize === undefined ? undefined : externalize(t, n ?? '', role);
  if (ext !== undefined) {
    p.external_data = ext;
    p.data_location = 1;
    return p;
  }
  if (extra.dataLocation !== undefined && extra.dataLocation !== 1) p.data_location = extra.dataLocation;
  if (t.dtype === 'string') {
    p.string_data = t.data as Uint8Array[];
  } else if (info.storage === 'field') {
    writeFields(t, p);
  } else if (t.isLazy) {
    // Read when the encoder reaches it, not now: the size check over the whole model runs first, and only one lazy
    // tensor's bytes are loaded at a time.
    p.raw_data_thunk = () => tensorBytes(t);
  } else {
    p.raw_data = tensorBytes(t);
  }
  return p;
}

function writeFields(t: Tensor, p: PTensor): void {
  const d = t.data as unknown;
  switch (t.dtype) {
    case 'float32':
    case 'complex64':
      p.float_data = d as unknown as number[]; // protobufjs only indexes it, a Float32Array works as is
      return;
    case 'float64':
    case 'complex128':
      p.double_data = d as unknown as number[];
      return;
    case 'int64':
      p.int64_data = Array.from(d as BigInt64Array, fromBigInt);
      return;
    case 'uint64':
      p.uint64_data = Array.from(d as BigUint64Array, fromBigInt);
      return;
    case 'uint32':
      p.uint64_data = d as unknown as number[];
      return;
    default:
      // int32 and all narrower types, one entry per stored element (sub-byte types: one per packed byte).
      p.int32_data = d as unknown as number[];
  }
}
