import { type Dim, dtypeFromOnnx, dtypeInfo, McError, type TypeInfo } from '@mc/ir';
import { fromBigInt, has, toBigInt } from './proto/codec.js';
import type { PDimension, PTensorShape, PType } from './proto/types.js';

/**
 * TypeProto <-> TypeInfo (https://onnx.ai/onnx/repo-docs/IR.html#type-system). Element types outside mc's dtype
 * table are an error: they have no IR name to carry them.
 * @internal
 */
export function readType(p: PType): TypeInfo {
  const den = has(p, 'denotation') ? { denotation: p.denotation ?? '' } : {};
  const elem = (code: number | undefined): ReturnType<typeof dtypeFromOnnx> => {
    if (code === undefined || code === 0) return undefined;
    const d = dtypeFromOnnx(code);
    if (d === undefined)
      throw new McError('E_UNSUPPORTED', `type has element type ${code}, which mc does not know; use a standard ONNX data type`);
    return d;
  };
  if (p.tensor_type != null || p.sparse_tensor_type != null) {
    const t = (p.tensor_type ?? p.sparse_tensor_type)!;
    const kind = p.tensor_type != null ? ('tensor' as const) : ('sparse_tensor' as const);
    const dtype = elem(t.elem_type);
    const out: Extract<TypeInfo, { kind: 'tensor' | 'sparse_tensor' }> = { kind, ...(dtype !== undefined && { dtype }), ...den };
    if (t.shape != null) {
      const dims = t.shape.dim ?? [];
      const shape: Dim[] = dims.map(readDim);
      const dd = dims.map((d) => (has(d, 'denotation') ? d.denotation : undefined));
      return { ...out, shape, ...(dd.some((x) => x !== undefined) && { dimDenotations: dd }) };
    }
    return out;
  }
  if (p.sequence_type != null) {
    const e = p.sequence_type.elem_type;
    return { kind: 'sequence', ...(e != null && { elem: readType(e) }), ...den };
  }
  if (p.optional_type != null) {
    const e = p.optional_type.elem_type;
    return { kind: 'optional', ...(e != null && { elem: readType(e) }), ...den };
  }
  if (p.map_type != null) {
    const v = p.map_type.value_type;
    const k = elem(p.map_type.key_type) ?? 'undefined';
    return { kind: 'map', keyType: k as 'int64', ...(v != null && { value: readType(v) }), ...den };
  }
  if (p.opaque_type != null) {
    return { kind: 'opaque', domain: p.opaque_type.domain ?? '', name: p.opaque_type.name ?? '', ...den };
  }
  return { kind: 'unknown', ...den };
}

function readDim(d: PDimension): Dim {
  if (has(d, 'dim_value')) return Number(toBigInt(d.dim_value));
  if (has(d, 'dim_param')) return d.dim_param ?? '';
  return null;
}

/** @internal */
export function writeType(t: TypeInfo): PType {
  const den = t.denotation !== undefined ? { denotation: t.denotation } : {};
  const onnx = (d: string | undefined): number | undefined =>
    d === undefined || d === 'undefined' ? undefined : dtypeInfo(d as Parameters<typeof dtypeInfo>[0]).onnx;
  switch (t.kind) {
    case 'tensor':
    case 'sparse_tensor': {
      const body: { elem_type?: number; shape?: PTensorShape } = {};
      const e = onnx(t.dtype);
      if (e !== undefined) body.elem_type = e;
      if (t.shape !== undefined) {
        body.shape = {
          dim: t.shape.map((d, i) => {
            const out: PDimension = {};
            if (typeof d === 'number') out.dim_value = fromBigInt(BigInt(d));
            else if (typeof d === 'string') out.dim_param = d;
            const dd = t.dimDenotations?.[i];
            if (dd !== undefined) out.denotation = dd;
            return out;
          }),
        };
      }
      return t.kind === 'tensor' ? { tensor_type: body, ...den } : { sparse_tensor_type: body, ...den };
    }
    case 'sequence':
      return { sequence_type: t.elem === undefined ? {} : { elem_type: writeType(t.elem) }, ...den };
    case 'optional':
      return { optional_type: t.elem === undefined ? {} : { elem_type: writeType(t.elem) }, ...den };
    case 'map': {
      const k = onnx(t.keyType);
      return {
        map_type: { ...(k !== undefined && { key_type: k }), ...(t.value !== undefined && { value_type: writeType(t.value) }) },
        ...den,
      };
    }
    case 'opaque':
      return { opaque_type: { ...(t.domain !== '' && { domain: t.domain }), ...(t.name !== '' && { name: t.name }) }, ...den };
    default:
      return { ...den };
  }
}
