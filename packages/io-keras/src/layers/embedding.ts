import { slotOf } from '@mc/ir';
import type { Tensor } from '@mc/ir';
import { type LayerHandler, same } from './types.js';

/** Embedding: Gather(embeddings [vocab, dim], indices as int64); Keras feeds float indices, so they are cast first. */
export const embedding: LayerHandler = {
  toIr(ctx) {
    const x = ctx.input(0, 'native');
    const emb = ctx.stored(0, 'embeddings', [ctx.cfg<number | null>('input_dim', null), ctx.cfg<number | null>('output_dim', null)]);
    const idx = x.value.dtype === 'int64' ? x.value : ctx.node('Cast', [x.value], { to: 7 });
    const y = ctx.node('Gather', [ctx.weight('embeddings', emb), idx], { axis: 0 });
    return [{ value: y, layout: 'native', shape: [...x.shape, emb.dims[1]!] }];
  },
  fromIr(group, ctx) {
    const g = group.nodes.find((n) => n.opType === 'Gather');
    const e = ctx.constant(g && slotOf(g, 'data'));
    return e === undefined
      ? undefined
      : same(group, [{ name: 'embeddings', tensor: e as Tensor }], { ...group.config, input_dim: e.dims[0]!, output_dim: e.dims[1]! });
  },
};
