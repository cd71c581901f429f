import { attrOf, type Graph, type Model, type Node, slotOf, Tensor, type Value } from '@mc/ir';
import { maskFromZeros, withMark } from './mask.js';

/** Dense float32 data of a 1-D linear or [nnz, rank] COO float32 sparse tensor, or undefined for other forms. */
function densify(v: Value): Float32Array | undefined {
  const s = v.sparseValue;
  if (s === undefined || s.values.dtype !== 'float32') return undefined;
  const size = s.dims.reduce((a, b) => a * b, 1);
  const nnz = s.values.size;
  const idx = s.indices.data as ArrayLike<number | bigint>;
  const rank = s.indices.dims.length === 2 ? s.indices.dims[1]! : 1;
  if (!['int64', 'int32', 'int16'].includes(s.indices.dtype) || s.indices.size !== nnz * rank) return undefined;
  const out = new Float32Array(size);
  const vals = s.values.data as Float32Array;
  for (let k = 0; k < nnz; k++) {
    let at = 0;
    for (let r = 0; r < rank; r++) at = at * (rank === 1 ? 1 : s.dims[r]!) + Number(idx[k * rank + r]!);
    if (!(at >= 0 && at < size)) return undefined;
    out[at] = vals[k]!;
  }
  return out;
}

const only = (v: Value | undefined, n: Node): boolean => v !== undefined && v.uses().length === 1 && v.uses()[0]!.node === n;
const constOf = (v: Value | undefined): Tensor | undefined => (v?.isInitializer() === true && !v.isGraphInput() ? v.constValue : undefined);

/**
 * The packed decoder `emitPacked` writes: Reshape(ScatterElements(ConstantOfShape, CumSum(Cast(gaps)), values), dims),
 * every intermediate read once. Returns the dense weight and the nodes and initializers to drop.
 */
function unpack(reshape: Node): { data: Float32Array; dims: number[]; nodes: Node[]; inits: Value[]; base: string } | undefined {
  const scatter = slotOf(reshape, 'data')?.producer();
  const dimsT = constOf(slotOf(reshape, 'shape'));
  if (scatter?.opType !== 'ScatterElements' || dimsT?.dtype !== 'int64' || !only(scatter.outputs[0], reshape)) return undefined;
  const [zerosV, posV, valuesV] = [slotOf(scatter, 'data'), slotOf(scatter, 'indices'), slotOf(scatter, 'updates')];
  const fill = zerosV?.producer();
  const cumsum = posV?.producer();
  if (fill?.opType !== 'ConstantOfShape' || cumsum?.opType !== 'CumSum') return undefined;
  const cast = slotOf(cumsum, 'x')?.producer();
  if (cast?.opType !== 'Cast') return undefined;
  const values = constOf(valuesV);
  const gaps = constOf(slotOf(cast, 'input'));
  const nT = constOf(slotOf(fill, 'input'));
  if (values?.dtype !== 'float32' || gaps?.dtype !== 'uint8' || nT?.dtype !== 'int64') return undefined;
  if (!only(zerosV, scatter) || !only(posV, scatter) || !only(slotOf(cumsum, 'x'), cumsum) || attrOf(scatter, 'axis') !== 0)
    return undefined;
  const fv = fill.attr('value');
  if (fv !== undefined && (fv.type !== 'TENSOR' || fv.value.dtype !== 'float32' || (fv.value.data as Float32Array)[0] !== 0))
    return undefined;
  const dims = Array.from(dimsT.data as BigInt64Array, Number);
  const size = Number((nT.data as BigInt64Array)[0]);
  if (dims.reduce((a, b) => a * b, 1) !== size || gaps.size !== values.size) return undefined;
  const data = new Float32Array(size);
  const g = gaps.data as Uint8Array;
  const vals = values.data as Float32Array;
  for (let k = 0, at = 0; k < g.length; k++) {
    at += g[k]!;
    if (at >= size) return undefined;
    data[at] = vals[k]!;
  }
  const gapsV = slotOf(cast, 'input')!;
  const inits = [valuesV!, gapsV, slotOf(cumsum, 'axis'), slotOf(fill, 'input'), slotOf(reshape, 'shape')].filter(
    (v): v is Value => v !== undefined,
  );
  const gName = gapsV.name;
  return { data, dims, nodes: [reshape, scatter, fill, cumsum, cast], inits, base: gName.endsWith('/g') ? gName.slice(0, -2) : gName };
}

function dropIfUnused(graph: Graph, v: Value): void {
  if (v.uses().length === 0 && !v.isGraphOutput() && !v.isGraphInput()) graph.removeInitializer(v.name);
}

/**
 * The inverse of `storePruned` for the lossless forms: every float32 `sparse_initializer` and every packed weight
 * (the decoder `storePruned` writes) becomes a plain dense initializer again, carrying its mask, so techniques see
 * the weights of a pruned file. Codebook-coded weights stay as they are (their decoder is lossy and shared by the
 * whole stream). Returns a new model and the names restored; with nothing to restore, the input itself.
 *
 * @example
 * ```ts
 * const { model, restored } = unstorePruned(await loadOnnx('pruned.onnx'));
 * const { model: small } = await factorize(model, { ratio: 0.5 }); // sees the pruned layers
 * ```
 */
export function unstorePruned(model: Model): { model: Model; restored: string[] } {
  const hasPacked = model.graph.nodes.some(
    (n) => n.opType === 'Reshape' && n.domain === '' && slotOf(n, 'data')?.producer()?.opType === 'ScatterElements',
  );
  if (model.graph.sparseInitializers.size === 0 && !hasPacked) return { model, restored: [] };
  const out = model.clone();
  const g = out.graph;
  const restored: string[] = [];
  // Written again, they take the default forms (int64 indices: valid ONNX), whatever the file held.
  const mark = (t: Tensor) => withMark(t, { mask: maskFromZeros(t.data as Float32Array), storage: 'auto', sparseIndices: 'int64' });
  for (const [name, v] of [...g.sparseInitializers]) {
    const data = densify(v);
    if (data === undefined) continue;
    const dims = [...v.sparseValue!.dims];
    g.sparseInitializers.delete(name);
    v.sparseValue = undefined;
    v.constValue = mark(new Tensor('float32', dims, data));
    g.setInitializer(v);
    restored.push(name);
  }
  for (const n of [...g.nodes]) {
    if (n.opType !== 'Reshape' || n.domain !== '' || n.outputs[0]!.isGraphOutput()) continue;
    const u = unpack(n);
    if (u === undefined) continue;
    const w = g.addInitializer(u.base, mark(new Tensor('float32', u.dims, u.data)));
    n.outputs[0]!.replaceAllUsesWith(w);
    for (const d of u.nodes) g.remove(d);
    for (const v of u.inits) dropIfUnused(g, v);
    restored.push(w.name);
  }
  g.touch();
  return { model: out, restored };
}
