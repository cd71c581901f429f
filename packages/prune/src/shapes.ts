import { inferShapes, type Model, namedInput, type Shape, toNumbers } from '@mc/ir';

/**
 * Shape inference plus the ops pruning needs that the IR registry does not shape (Split, whose outputs pruning must
 * follow). Repeats until nothing new is learned.
 * @internal
 */
export function inferAllShapes(model: Model): void {
  // Readers may leave an initializer's type unset; its tensor knows it.
  for (const v of model.graph.initializers.values()) {
    const t = v.constValue;
    if (t === undefined) continue;
    if (v.shape === undefined) v.shape = t.dims;
    if (v.dtype === undefined) v.dtype = t.dtype;
  }
  for (let round = 0; round < 8; round++) {
    inferShapes(model);
    let learned = false;
    for (const node of model.graph.nodes) {
      if (node.opType !== 'Split' || node.domain !== '' || node.outputs.every((o) => o.shape !== undefined)) continue;
      const x = node.inputs[0]?.shape;
      if (x === undefined) continue;
      const axis = ((node.attrInt('axis', 0)! % x.length) + x.length) % x.length;
      const d = x[axis];
      const splitIn = namedInput(node, 'split');
      let sizes: number[] | undefined;
      if (splitIn?.constValue !== undefined) sizes = toNumbers(splitIn.constValue);
      else if (node.attr('split') !== undefined) sizes = node.attrInts('split');
      else if (typeof d === 'number') {
        const k = node.outputs.length;
        const each = Math.ceil(d / k);
        sizes = Array.from({ length: k }, (_, i) => Math.max(0, Math.min(each, d - i * each)));
      }
      if (sizes === undefined || sizes.length !== node.outputs.length) continue;
      for (const [i, o] of node.outputs.entries()) {
        if (o.shape !== undefined) continue;
        const s: Shape = x.map((dim, j) => (j === axis ? sizes[i]! : dim));
        o.shape = s;
        if (o.dtype === undefined && node.inputs[0]?.dtype !== undefined) o.dtype = node.inputs[0].dtype;
        learned = true;
      }
    }
    if (!learned) return;
  }
}
