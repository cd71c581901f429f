import { type DType, dtypeFromOnnx, type Node, Tensor, toFloat32, type Value, attrOf, reshapeDims, slotOf, transposePerm } from '@mc/ir';
import { permute } from './tensor-ops.js';

/**
 * A small evaluator for constant subgraphs that transforms leave in front of weights (DequantizeLinear of int8,
 * k-means codebook decoding: Unsqueeze → BitShift → Mod → Reshape → Slice → Cast → Gather → Reshape, Cast of fp16).
 * Keras stores plain float weights, so the writer folds these into the tensor ONNX would compute. Semantics follow
 * https://onnx.ai/onnx/operators/ for each op; values are computed in float64 (exact for the integer codes involved).
 */
interface Arr {
  dtype: DType;
  dims: number[];
  data: Float64Array;
}

const cache = new WeakMap<Value, Tensor | null>();

/** The constant a value holds, evaluating constant-only producers; undefined for runtime values. @internal */
export function evalConstant(v: Value | undefined): Tensor | undefined {
  if (v === undefined) return undefined;
  if (v.constValue !== undefined) return v.constValue;
  const hit = cache.get(v);
  if (hit !== undefined) return hit ?? undefined;
  let out: Tensor | undefined;
  try {
    const a = evalValue(v, 0);
    out = a === undefined ? undefined : withTfjsSpec(v, toTensor(a));
  } catch {
    out = undefined;
  }
  cache.set(v, out ?? null);
  return out;
}

/**
 * A per-tensor int8/uint8 DequantizeLinear is exactly a TF.js uint8 affine weight spec: (q − zp)·s = u·s + min with
 * u = q + 128 (int8) or q (uint8) and min = (−128 − zp)·s or −zp·s. The spec rides on the tensor so a TF.js writer
 * stores the original codes instead of float32.
 */
function withTfjsSpec(v: Value, t: Tensor): Tensor {
  const p = v.producer();
  if (p?.opType !== 'DequantizeLinear' || t.dtype !== 'float32') return t;
  const q = slotOf(p, 'x')?.constValue;
  const s = slotOf(p, 'x_scale')?.constValue;
  const z = slotOf(p, 'x_zero_point')?.constValue;
  if (q === undefined || s === undefined || s.size !== 1 || (z !== undefined && z.size !== 1)) return t;
  if (q.dtype !== 'int8' && q.dtype !== 'uint8') return t;
  const scale = toFloat32(s)[0]!;
  const zp = z === undefined ? 0 : Number(toFloat32IntSafe(z)[0]);
  const min = q.dtype === 'int8' ? (-128 - zp) * scale : -zp * scale;
  return t.withInfo({ extra: { tfjsQuantization: { dtype: 'uint8', scale, min, original_dtype: 'float32' } } });
}

function toTensor(a: Arr): Tensor {
  switch (a.dtype) {
    case 'float32':
    case 'float16':
    case 'float64':
    case 'bfloat16':
      return new Tensor('float32', a.dims, Float32Array.from(a.data));
    case 'int64':
      return new Tensor(
        'int64',
        a.dims,
        BigInt64Array.from(a.data, (x) => BigInt(Math.trunc(x))),
      );
    case 'int32':
      return new Tensor('int32', a.dims, Int32Array.from(a.data));
    case 'int8':
      return new Tensor('int8', a.dims, Int8Array.from(a.data));
    case 'uint8':
      return new Tensor('uint8', a.dims, Uint8Array.from(a.data));
    default:
      return new Tensor('float32', a.dims, Float32Array.from(a.data));
  }
}

function fromTensor(t: Tensor): Arr {
  return { dtype: t.dtype, dims: [...t.dims], data: Float64Array.from(toFloat32IntSafe(t)) };
}

function toFloat32IntSafe(t: Tensor): ArrayLike<number> {
  if (t.dtype === 'int64' || t.dtype === 'uint64') return Array.from(t.data as BigInt64Array, Number);
  if (
    t.dtype === 'int32' ||
    t.dtype === 'uint32' ||
    t.dtype === 'int16' ||
    t.dtype === 'uint16' ||
    t.dtype === 'int8' ||
    t.dtype === 'uint8' ||
    t.dtype === 'bool'
  )
    return t.data as ArrayLike<number>;
  return toFloat32(t);
}

const size = (d: readonly number[]): number => d.reduce((a, b) => a * b, 1);

function strides(d: readonly number[]): number[] {
  const s = new Array<number>(d.length);
  let k = 1;
  for (let i = d.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= d[i]!;
  }
  return s;
}

function broadcast(a: Arr, b: Arr, f: (x: number, y: number) => number): Arr {
  const r = Math.max(a.dims.length, b.dims.length);
  const ad = [...new Array<number>(r - a.dims.length).fill(1), ...a.dims];
  const bd = [...new Array<number>(r - b.dims.length).fill(1), ...b.dims];
  const od = ad.map((x, i) => Math.max(x, bd[i]!));
  const [as, bs, os] = [strides(ad), strides(bd), strides(od)];
  const out = new Float64Array(size(od));
  for (let i = 0; i < out.length; i++) {
    let ai = 0;
    let bi = 0;
    for (let k = 0; k < r; k++) {
      const c = Math.floor(i / os[k]!) % od[k]!;
      if (ad[k] !== 1) ai += c * as[k]!;
      if (bd[k] !== 1) bi += c * bs[k]!;
    }
    out[i] = f(a.data[ai]!, b.data[bi]!);
  }
  return { dtype: a.dtype, dims: od, data: out };
}

function ints(a: Arr | undefined): number[] | undefined {
  return a === undefined ? undefined : Array.from(a.data);
}

function evalValue(v: Value, depth: number): Arr | undefined {
  if (v.constValue !== undefined) return fromTensor(v.constValue);
  const p = v.producer();
  if (p === undefined || depth > 32 || p.outputs.length !== 1) return undefined;
  const ins = p.inputs.map((x) => (x === undefined ? undefined : evalValue(x, depth + 1)));
  if (p.inputs.some((x, i) => x !== undefined && ins[i] === undefined)) return undefined;
  return evalNode(p, ins);
}

function evalNode(n: Node, ins: (Arr | undefined)[]): Arr | undefined {
  const x = ins[0];
  if (n.opType === 'Constant') {
    const a = n.attr('value');
    return a?.type === 'TENSOR' ? fromTensor(a.value) : undefined;
  }
  if (x === undefined) return undefined;
  switch (n.opType) {
    case 'Identity':
      return x;
    case 'Cast':
      return { ...x, dtype: dtypeFromOnnx(n.attrInt('to', 1)) ?? 'float32', data: castData(x.data, dtypeFromOnnx(n.attrInt('to', 1))) };
    case 'Reshape': {
      const dims = reshapeDims(x.dims, ints(ins[1])!, attrOf(n, 'allowzero') === 1);
      return dims === undefined ? undefined : { ...x, dims };
    }
    case 'Flatten': {
      const ax = attrOf(n, 'axis');
      return { ...x, dims: [size(x.dims.slice(0, ax)), size(x.dims.slice(ax))] };
    }
    case 'Unsqueeze': {
      const axes = ints(ins[1]) ?? n.attrInts('axes') ?? [];
      const r = x.dims.length + axes.length;
      const norm = axes.map((a) => (a < 0 ? a + r : a));
      const dims: number[] = [];
      let k = 0;
      for (let i = 0; i < r; i++) dims.push(norm.includes(i) ? 1 : x.dims[k++]!);
      return { ...x, dims };
    }
    case 'Squeeze': {
      const axes = (ints(ins[1]) ?? n.attrInts('axes') ?? x.dims.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)).map((a) =>
        a < 0 ? a + x.dims.length : a,
      );
      return { ...x, dims: x.dims.filter((_, i) => !axes.includes(i)) };
    }
    case 'Transpose': {
      const perm = transposePerm(n, x.dims.length);
      const t = permute(new Tensor('float32', x.dims, Float32Array.from(x.data)), perm);
      return { dtype: x.dtype, dims: [...t.dims], data: Float64Array.from(t.data) };
    }
    case 'Gather': {
      const idx = ins[1]!;
      const ax0 = attrOf(n, 'axis');
      const ax = ax0 < 0 ? ax0 + x.dims.length : ax0;
      const outer = size(x.dims.slice(0, ax));
      const inner = size(x.dims.slice(ax + 1));
      const dim = x.dims[ax]!;
      const out = new Float64Array(outer * idx.data.length * inner);
      let o = 0;
      for (let a = 0; a < outer; a++)
        for (const raw of idx.data) {
          const j = raw < 0 ? raw + dim : raw;
          for (let b = 0; b < inner; b++) out[o++] = x.data[(a * dim + j) * inner + b]!;
        }
      return { dtype: x.dtype, dims: [...x.dims.slice(0, ax), ...idx.dims, ...x.dims.slice(ax + 1)], data: out };
    }
    case 'Slice': {
      const starts = ints(ins[1])!;
      const ends = ints(ins[2])!;
      const axes = (ints(ins[3]) ?? starts.map((_, i) => i)).map((a) => (a < 0 ? a + x.dims.length : a));
      const steps = ints(ins[4]) ?? starts.map(() => 1);
      if (steps.some((s) => s !== 1)) return undefined;
      const lo = x.dims.map(() => 0);
      const hi = [...x.dims];
      axes.forEach((a, i) => {
        const d = x.dims[a]!;
        const clamp = (v: number): number => Math.min(d, Math.max(0, v < 0 ? v + d : v));
        lo[a] = clamp(starts[i]!);
        hi[a] = clamp(ends[i]!);
      });
      const dims = x.dims.map((_, i) => Math.max(0, hi[i]! - lo[i]!));
      const [xs, os] = [strides(x.dims), strides(dims)];
      const out = new Float64Array(size(dims));
      for (let i = 0; i < out.length; i++) {
        let src = 0;
        for (let k = 0; k < dims.length; k++) src += ((Math.floor(i / os[k]!) % dims[k]!) + lo[k]!) * xs[k]!;
        out[i] = x.data[src]!;
      }
      return { dtype: x.dtype, dims, data: out };
    }
    case 'BitShift': {
      const right = n.attrString('direction', 'RIGHT') === 'RIGHT';
      return broadcast(x, ins[1]!, (a, b) => (right ? Math.floor(a / 2 ** b) : a * 2 ** b));
    }
    case 'Mod':
      return broadcast(x, ins[1]!, attrOf(n, 'fmod') === 1 ? (a, b) => a % b : (a, b) => ((a % b) + b) % b);
    case 'Add':
      return broadcast(x, ins[1]!, (a, b) => a + b);
    case 'Sub':
      return broadcast(x, ins[1]!, (a, b) => a - b);
    case 'Mul':
      return broadcast(x, ins[1]!, (a, b) => a * b);
    case 'Div':
      return broadcast(x, ins[1]!, (a, b) => a / b);
    case 'Neg':
      return { ...x, data: x.data.map((a) => -a) };
    case 'DequantizeLinear': {
      const scale = ins[1]!;
      const zp = ins[2];
      if (attrOf(n, 'block_size') > 0) return undefined;
      const rank = x.dims.length;
      const axis0 = attrOf(n, 'axis');
      const axis = axis0 < 0 ? axis0 + rank : axis0;
      const inner = size(x.dims.slice(axis + 1));
      const out = new Float64Array(x.data.length);
      for (let i = 0; i < out.length; i++) {
        const c = scale.data.length > 1 ? Math.floor(i / inner) % x.dims[axis]! : 0;
        const z = zp === undefined ? 0 : zp.data.length > 1 ? zp.data[c]! : zp.data[0]!;
        out[i] = (x.data[i]! - z) * scale.data[c]!;
      }
      return { dtype: scale.dtype, dims: x.dims, data: out };
    }
    default:
      return undefined;
  }
}

function castData(d: Float64Array, to: DType | undefined): Float64Array {
  if (to === undefined || to.startsWith('float') || to === 'bfloat16')
    return to === 'float32' || to === 'float16' ? d.map((v) => Math.fround(v)) : d;
  return d.map((v) => Math.trunc(v));
}
