import { type Node, Tensor, type WeightRef, attr, toFloat32 } from '@mc/ir';
import type { Emitter } from '../emit.js';
import { bytesOf } from '../graph-utils.js';
import { type BlockQuantized, packBits } from '../kernels/block.js';
import { dequantizedWeight } from './int8-weights.js';
import type { WeightRewrite } from './weights.js';

/** True for the ops whose weight int4 stores as DequantizeLinear blocks over the flattened kernel. @internal */
export function isConvWeight(node: Node): boolean {
  return node.opType === 'Conv' || node.opType === 'ConvTranspose';
}

/**
 * int4 blocks of a Conv/ConvTranspose weight. The weight [d0, d1, k...] is stored as int4 (uint4 when asymmetric)
 * [d0, R] with R = d1·k..., blocks of `bs` along R, so a block spans input channels and kernel taps of one row (a
 * depthwise 3×3 row is one block of 9); DequantizeLinear (opset 21, `block_size`) and a Reshape give the float weight
 * back. Blocking along an axis of the 4-D weight instead would give a depthwise layer one scale per tap.
 * @internal
 */
export function convInt4Weight(
  emit: Emitter,
  node: Node,
  w: WeightRef & { tensor: Tensor },
  quantizeRows: (rows: Float32Array, n: number, k: number) => BlockQuantized,
  bs: number,
  symmetric: boolean,
  how: string,
): WeightRewrite {
  const t = w.tensor;
  const n = t.dims[0]!;
  const k = t.size / n;
  const r = quantizeRows(toFloat32(t), n, k);
  const nb = r.blocksPerRow;
  const name = w.value.name;
  let qt: Tensor;
  let zt: Tensor | undefined;
  if (symmetric) {
    qt = new Tensor(
      'int4',
      [n, k],
      packBits(
        Array.from(r.q, (v) => v - 8),
        4,
      ),
    );
  } else {
    qt = new Tensor('uint4', [n, k], packBits(r.q, 4));
    zt = new Tensor('uint4', [n, nb], packBits(r.zeroPoints, 4));
  }
  const st = new Tensor('float32', [n, nb], r.scales);
  const ins = [emit.init(`${name}_int4`, qt), emit.init(`${name}_scale`, st)];
  if (zt !== undefined) ins.push(emit.init(`${name}_zero_point`, zt));
  const [flat] = emit.node(node, 'DequantizeLinear', ins, {
    name: `${name}_DequantizeLinear`,
    attrs: { axis: attr.int(1), block_size: attr.int(bs) },
    dtypes: ['float32'],
  });
  flat!.shape = [n, k];
  const shape = emit.init(
    `${name}_shape`,
    new Tensor(
      'int64',
      [t.dims.length],
      BigInt64Array.from(t.dims, (d) => BigInt(d)),
    ),
  );
  const [out] = emit.node(node, 'Reshape', [flat!, shape], { name: `${name}_reshape`, dtypes: ['float32'] });
  out!.shape = t.dims;
  return {
    value: out!,
    action: `int4 DequantizeLinear block ${bs} over the flattened kernel${symmetric ? ' symmetric' : ' asymmetric'} ${how}`,
    bytesAfter: bytesOf(qt, st, zt),
    maxAbsError: r.maxAbsError,
  };
}

/** A Conv/ConvTranspose weight stored int8 per output channel, symmetric (the int4 mode's default for Conv). @internal */
export function convInt8Weight(emit: Emitter, node: Node, w: WeightRef & { tensor: Tensor }): WeightRewrite {
  const r = dequantizedWeight(emit, node, w.value.name, w.tensor, w.outAxis, 'int8', { symmetric: true });
  return {
    value: r.value,
    action: `int8 weight per-channel (axis ${w.outAxis}) symmetric (Conv weights: convBits 8)`,
    bytesAfter: r.bytesAfter,
    maxAbsError: r.maxAbsError,
  };
}
