import { type Attribute, attr, type Graph, Node, type SparseTensor, Tensor, type Value } from '@mc/ir';
import type { SparseIndices, SparseStorage } from './options.js';

/** Index types onnxruntime-node and -web 1.30 accept in a sparse_initializer (int8 and unsigned types are refused). */
export type SparseIndexType = 'int16' | 'int32' | 'int64';

/**
 * The smallest index type onnxruntime-node/-web 1.30 load for linear sparse indices into `size` elements (int16 and
 * int32 are refused by onnx.checker, which wants int64: the `sparseIndices: 'smallest'` option).
 *
 * @example
 * ```ts
 * indexTypeFor(300 * 100); // 'int16'
 * indexTypeFor(784 * 300); // 'int32'
 * ```
 */
export function indexTypeFor(size: number): SparseIndexType {
  return size <= 32768 ? 'int16' : size <= 2 ** 31 ? 'int32' : 'int64';
}

const INDEX_BYTES: Record<SparseIndexType, number> = { int16: 2, int32: 4, int64: 8 };

/**
 * COO form of a dense array with 1-D linear indices (ONNX SparseTensorProto allows [nnz] linear indices;
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto, `SparseTensorProto.indices`).
 * @internal
 */
export function toSparse(data: Float32Array, dims: readonly number[], indices: SparseIndices = 'int64'): SparseTensor {
  let nnz = 0;
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) nnz++;
  const values = new Float32Array(nnz);
  const type = sparseIndexType(data.length, indices);
  const idx = type === 'int16' ? new Int16Array(nnz) : type === 'int32' ? new Int32Array(nnz) : new BigInt64Array(nnz);
  for (let i = 0, k = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    values[k] = data[i]!;
    if (idx instanceof BigInt64Array) idx[k] = BigInt(i);
    else idx[k] = i;
    k++;
  }
  return {
    values: new Tensor('float32', [nnz], values),
    indices: new Tensor(type, [nnz], idx as never),
    dims: [...dims],
  };
}

/** Index type of the sparse form: int64 (valid ONNX by onnx.checker) unless the smallest ORT loads is asked for. @internal */
export function sparseIndexType(size: number, indices: SparseIndices): SparseIndexType {
  return indices === 'smallest' ? indexTypeFor(size) : 'int64';
}

/** Bytes of the sparse form with `nnz` nonzeros out of `size`. @internal */
export function sparseBytes(nnz: number, size: number, indices: SparseIndices = 'int64'): number {
  return nnz * (4 + INDEX_BYTES[sparseIndexType(size, indices)]);
}

/**
 * The packed (dense-at-load) stream: positions of nonzeros as uint8 gaps (first gap from position 0, then ≥ 1), with a
 * zero-valued filler entry at every 255th position of a longer gap, so every gap fits a byte.
 * @internal
 */
export function toPacked(data: Float32Array): { gaps: Uint8Array; values: Float32Array } {
  const gaps: number[] = [];
  const values: number[] = [];
  let prev = 0;
  let first = true;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    let d = i - prev;
    while (d > 255) {
      gaps.push(255);
      values.push(0);
      d -= 255;
    }
    if (!first && d === 0) throw new Error('unreachable: positions are increasing');
    gaps.push(d);
    values.push(data[i]!);
    prev = i;
    first = false;
  }
  return { gaps: Uint8Array.from(gaps), values: Float32Array.from(values) };
}

/** Bytes of the packed form (values + gaps, plus the few small constants of the decoder). @internal */
export function packedBytes(p: { gaps: Uint8Array; values: Float32Array }, rank: number, valueBytes = 4): number {
  return p.values.length * (valueBytes + 1) + 8 * (rank + 2) + 8;
}

/**
 * Replaces initializer `v` (all its uses) by the decoder of the packed stream, inserted before its first user:
 * positions = CumSum(Cast(gaps, int32)); dense = Reshape(ScatterElements(ConstantOfShape([size], 0), positions,
 * values), dims). Every input is constant, so onnxruntime folds the chain when the session is created
 * (ops: https://onnx.ai/onnx/operators/onnx__ScatterElements.html, CumSum (opset 11), ConstantOfShape (opset 9)).
 * @internal
 */
export function emitPacked(
  graph: Graph,
  v: Value,
  dims: readonly number[],
  p: { gaps: Uint8Array; values: Float32Array },
  dtype: 'float32' | 'int8' = 'float32',
): Value {
  const users = v.uses();
  const first = graph.nodes.find((n) => users.some((u) => u.node === n))!;
  const base = v.name;
  let step = 0;
  const size = dims.reduce((a, b) => a * b, 1);
  const i64 = (name: string, xs: readonly number[]) =>
    graph.addInitializer(graph.uniqueName(`${base}/${name}`), new Tensor('int64', [xs.length], BigInt64Array.from(xs.map(BigInt))));
  // int8: a quantized pruned weight (symmetric, zero point 0), decoded before its DequantizeLinear.
  const zero = attr.tensor(
    dtype === 'int8' ? new Tensor('int8', [1], new Int8Array(1)) : new Tensor('float32', [1], new Float32Array([0])),
  );
  const valuesT =
    dtype === 'int8' ? new Tensor('int8', [p.values.length], Int8Array.from(p.values)) : new Tensor('float32', [p.values.length], p.values);
  const mk = (opType: string, inputs: Value[], attributes: Record<string, Attribute> = {}): Value => {
    // Short names: in a pruned file the decoder's names are a noticeable share of the bytes.
    const node = new Node({ opType, inputs, outputs: [graph.uniqueName(`${base}/${step++}`)], attributes });
    graph.insertBefore(first, node);
    return node.outputs[0]!;
  };
  let dense: Value;
  if (p.values.length === 0) {
    dense = mk('ConstantOfShape', [i64('d', dims)], { value: zero });
  } else {
    const gaps = graph.addInitializer(graph.uniqueName(`${base}/g`), new Tensor('uint8', [p.gaps.length], p.gaps));
    const values = graph.addInitializer(graph.uniqueName(`${base}/v`), valuesT);
    const pos32 = mk('Cast', [gaps], { to: attr.int(6) });
    const pos = mk('CumSum', [pos32, graph.addInitializer(graph.uniqueName(`${base}/a`), new Tensor('int32', [], new Int32Array([0])))]);
    const zeros = mk('ConstantOfShape', [i64('n', [size])], { value: zero });
    const flat = mk('ScatterElements', [zeros, pos, values], { axis: attr.int(0) });
    dense = mk('Reshape', [flat, i64('d', dims)]);
  }
  dense.dtype = dtype;
  dense.shape = [...dims];
  v.replaceAllUsesWith(dense);
  graph.removeInitializer(v.name);
  return dense;
}

/** Chooses the storage of one pruned tensor by bytes. @internal */
export function chooseStorage(
  want: SparseStorage,
  size: number,
  nnz: number,
  packed: number,
  packedOk: boolean,
  indices: SparseIndices = 'int64',
): 'sparse' | 'packed' | 'dense' {
  if (want === 'sparse' || want === 'dense') return want;
  if (want === 'packed') return packedOk ? 'packed' : 'sparse';
  const options: ['sparse' | 'packed' | 'dense', number][] = [
    ['dense', size * 4],
    ['sparse', sparseBytes(nnz, size, indices)],
  ];
  if (packedOk) options.push(['packed', packed]);
  options.sort((a, b) => a[1] - b[1]);
  return options[0]![0];
}
