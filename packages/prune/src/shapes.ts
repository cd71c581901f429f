import { inferShapes, type Model } from '@mc/ir';

/**
 * Shape inference for pruning: the IR's, repeated until nothing new is learned (a pruned graph may need more than
 * one pass where shapes flow through constants computed from other shapes).
 * @internal
 */
export function inferAllShapes(model: Model): void {
  for (let round = 0; round < 4; round++) {
    const before = [...model.graph.values()].filter((v) => v.shape !== undefined).length;
    inferShapes(model);
    if ([...model.graph.values()].filter((v) => v.shape !== undefined).length === before) return;
  }
}
