import { type Model, type Node, Tensor, type Value, attr, kmeans1d, toFloat32 } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf } from '../graph-utils.js';
import { quantizeSigns } from '../kernels/binary.js';
import { packBits } from '../kernels/block.js';
import type { KMeansOptions, SignOptions } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { rewriteWeights } from './weights.js';

/** Storage width of b-bit indices: packed 1, 2, 4 or 8 to a byte lane. */
function laneBits(bits: number): 1 | 2 | 4 | 8 {
  return bits <= 1 ? 1 : bits <= 2 ? 2 : bits <= 4 ? 4 : 8;
}

const i64 = (xs: readonly number[]) => new Tensor('int64', [xs.length], BigInt64Array.from(xs.map(BigInt)));

/**
 * Emits the runnable codebook lookup for a weight: packed uint8 indices are unpacked with standard ops
 * (Unsqueeze → BitShift(RIGHT, [0, w, 2w, …]) → Mod 2^w → Reshape → Slice to n), cast to int32 and looked up with
 * Gather(codebook) → Reshape(dims). Every input is constant, so onnxruntime folds the chain into a float weight when the
 * session is created: the file stays small and inference runs at float speed. All ops exist at opset 13 in
 * onnxruntime-node and -web.
 * @internal
 */
export function emitCodebookLookup(
  emit: Emitter,
  before: Node,
  name: string,
  indices: Uint8Array,
  bits: number,
  codebook: Float32Array,
  dims: readonly number[],
): { value: Value; stored: Tensor[] } {
  const w = laneBits(bits);
  const n = indices.length;
  const packed = new Tensor('uint8', [Math.ceil((n * w) / 8)], w === 8 ? indices : packBits(indices, w));
  const stored: Tensor[] = [packed];
  let idx: Value = emit.init(`${name}_indices`, packed);
  if (w < 8) {
    const per = 8 / w;
    const shifts = new Tensor(
      'uint8',
      [per],
      Uint8Array.from({ length: per }, (_, i) => i * w),
    );
    const mod = new Tensor('uint8', [1], new Uint8Array([1 << w]));
    [idx] = emit.node(before, 'Unsqueeze', [idx, emit.init(`${name}_axes`, i64([1]))], { name: `${name}_unsqueeze` });
    [idx] = emit.node(before, 'BitShift', [idx!, emit.init(`${name}_shifts`, shifts)], {
      name: `${name}_shift`,
      attrs: { direction: attr.string('RIGHT') },
    });
    [idx] = emit.node(before, 'Mod', [idx!, emit.init(`${name}_mask`, mod)], { name: `${name}_mod` });
    [idx] = emit.node(before, 'Reshape', [idx!, emit.init(`${name}_flat`, i64([-1]))], { name: `${name}_flatten` });
    if (packed.size * per !== n) {
      [idx] = emit.node(before, 'Slice', [idx!, emit.init(`${name}_start`, i64([0])), emit.init(`${name}_end`, i64([n]))], {
        name: `${name}_trim`,
      });
    }
  }
  [idx] = emit.node(before, 'Cast', [idx!], { name: `${name}_index`, attrs: { to: attr.int(6) } });
  const cb = new Tensor('float32', [codebook.length], codebook);
  stored.push(cb);
  const [flat] = emit.node(before, 'Gather', [emit.init(`${name}_codebook`, cb), idx!], {
    name: `${name}_lookup`,
    attrs: { axis: attr.int(0) },
  });
  const shape = i64(dims);
  const [out] = emit.node(before, 'Reshape', [flat!, emit.init(`${name}_shape`, shape)], { name: `${name}_reshape`, dtypes: ['float32'] });
  out!.shape = dims;
  return { value: out!, stored };
}

/** k-means weight sharing (2^bits centroids per tensor). @internal */
export function quantizeKMeans(model: Model, opts: KMeansOptions, emit: Emitter, report: ReportBuilder): void {
  const bits = opts.bits ?? 4;
  const minElements = opts.minElements ?? 64;
  const accept = (_node: Node, w: { tensor: Tensor }) =>
    w.tensor.size < minElements ? `weight has ${w.tensor.size} < ${minElements} elements` : undefined;
  rewriteWeights(model, { exclude: opts.exclude, report, accept }, (node, w) => {
    const r = kmeans1d(toFloat32(w.tensor), 2 ** bits, { seed: opts.seed ?? 0 });
    const e = emitCodebookLookup(emit, node, w.value.name, r.indices, bits, r.centroids, w.tensor.dims);
    return {
      value: e.value,
      action: `k-means ${bits}-bit (${r.centroids.length} centroids)`,
      bytesAfter: bytesOf(...e.stored),
      maxAbsError: r.maxAbsError,
    };
  });
}

/** Binary / ternary weights with a per-output-channel scale. @internal */
export function quantizeSignsMode(model: Model, opts: SignOptions, emit: Emitter, report: ReportBuilder): void {
  const kind = opts.mode;
  rewriteWeights(model, { exclude: opts.exclude, report }, (node, w) => {
    const t = w.tensor;
    const r = quantizeSigns(toFloat32(t), t.dims, w.outAxis, kind);
    const e = emitCodebookLookup(emit, node, w.value.name, r.codes, kind === 'binary' ? 1 : 2, r.codebook, t.dims);
    const sdims = t.dims.map((d, i) => (i === w.outAxis ? d : 1));
    const st = new Tensor('float32', sdims, r.scales);
    const [out] = emit.node(node, 'Mul', [e.value, emit.init(`${w.value.name}_channel_scale`, st)], {
      name: `${w.value.name}_scale`,
      dtypes: ['float32'],
    });
    out!.shape = t.dims;
    return { value: out!, action: `${kind} per-channel (axis ${w.outAxis})`, bytesAfter: bytesOf(...e.stored, st) };
  });
}
