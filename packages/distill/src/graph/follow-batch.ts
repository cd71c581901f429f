import { Tensor, toNumbers, type Model, type Node, slotIndex, slotOf } from '@mc/ir';

/**
 * A clone where a fixed batch in a Reshape's constant shape (CNTK's [1, 256] for a [1, …] input) becomes −1, so it
 * follows the trained batch. Both engines compile this form. The input model itself when there is none.
 * @internal
 */
export function followBatch(model: Model): Model {
  const b0 = model.graph.inputs.find((v) => !v.isInitializer())?.shape?.[0];
  if (typeof b0 !== 'number') return model;
  const fixed = (n: Node) => {
    const c = n.opType === 'Reshape' ? slotOf(n, 'shape')?.constValue : undefined;
    const s = c !== undefined && c.dtype === 'int64' ? toNumbers(c) : undefined;
    return s !== undefined && s.length > 1 && s[0] === b0 && !s.includes(-1) ? s : undefined;
  };
  if (!model.graph.nodes.some((n) => fixed(n) !== undefined)) return model;
  const m = model.clone();
  for (const n of m.graph.nodes) {
    const s = fixed(n);
    if (s === undefined) continue;
    const v = m.graph.addInitializer(
      m.graph.uniqueName(`${slotOf(n, 'shape')!.name}_batch`),
      new Tensor('int64', [s.length], BigInt64Array.from([-1, ...s.slice(1)].map(BigInt))),
    );
    n.replaceInput(slotIndex(n, 'shape'), v);
  }
  return m;
}
