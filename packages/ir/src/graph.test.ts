import { describe, expect, it } from 'vitest';
import { Graph, McError, ModelBuilder, Node, Tensor, Value, float32Tensor, printModel } from './index.js';

function mlp() {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [1, 4]);
  const w = b.initializer('w', float32Tensor([4, 3], new Float32Array(12).fill(0.5)));
  const y = b.node('MatMul', [x, w], {}, { name: 'mm' });
  const r = b.node('Relu', [y], {}, { name: 'relu' });
  b.output(r, 'y');
  return b.build();
}

describe('graph edits keep use-lists right', () => {
  it('tracks uses and producers', () => {
    const m = mlp();
    const [mm, relu] = m.graph.nodes;
    expect(mm!.outputs[0]!.uses()).toEqual([{ node: relu, index: 0 }]);
    expect(relu!.outputs[0]!.producer()).toBe(relu);
    expect(m.graph.initializers.get('w')!.uses()[0]!.node).toBe(mm);
  });

  it('replaceAllUsesWith + remove drops an identity', () => {
    const m = mlp();
    const g = m.graph;
    const relu = g.nodes[1]!;
    const id = new Node({ opType: 'Identity', inputs: [relu.outputs[0]], outputs: ['id'] });
    g.insertAfter(relu, id);
    expect(id.inputs[0]!.uses().length).toBe(1);
    id.outputs[0]!.replaceAllUsesWith(relu.outputs[0]!);
    g.remove(id);
    expect(relu.outputs[0]!.uses()).toEqual([]);
    expect(g.nodes.length).toBe(2);
  });

  it('remove() of a used node throws E_INVARIANT and leaves the graph untouched', () => {
    const m = mlp();
    const before = printModel(m);
    try {
      m.graph.remove(m.graph.nodes[0]!);
      expect.unreachable();
    } catch (e) {
      expect(McError.is(e) && e.code).toBe('E_INVARIANT');
    }
    expect(printModel(m)).toBe(before);
  });

  it('replaceAllUsesWith on a graph output keeps the output name', () => {
    const m = mlp();
    const relu = m.graph.nodes[1]!;
    const mmOut = m.graph.nodes[0]!.outputs[0]!;
    relu.outputs[0]!.replaceAllUsesWith(mmOut, { graphOutputs: true });
    expect(m.graph.outputs[0]).toBe(mmOut);
    expect(mmOut.name).toBe('y');
    m.graph.remove(relu);
    expect(m.graph.nodes.length).toBe(1);
  });

  it('clone copies structure and shares tensors', () => {
    const m = mlp();
    const c = m.clone();
    expect(printModel(c)).toBe(printModel(m));
    expect(c.graph.initializers.get('w')!.constValue).toBe(m.graph.initializers.get('w')!.constValue);
    c.graph.nodes[1]!.opType = 'Sigmoid';
    expect(m.graph.nodes[1]!.opType).toBe('Relu');
    expect(c.graph.nodes[1]!.inputs[0]!.producer()).toBe(c.graph.nodes[0]);
  });

  it('topoSort orders nodes by dependency', () => {
    const g = new Graph('g');
    const x = g.addInput(new Value('x', { dtype: 'float32', shape: [1] }));
    const a = new Node({ opType: 'Relu', inputs: [x], outputs: ['a'] });
    const b = new Node({ opType: 'Neg', inputs: [a.outputs[0]], outputs: ['b'] });
    g.append(b, a);
    g.topoSort();
    expect(g.nodes).toEqual([a, b]);
  });

  it('tensors reject a wrong data length', () => {
    expect(() => new Tensor('float32', [2, 2], new Float32Array(3))).toThrow(/needs 4/);
    expect(new Tensor('int4', [3], new Uint8Array(2)).byteLength).toBe(2);
  });
});
