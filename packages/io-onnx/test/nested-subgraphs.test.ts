/**
 * Deeply nested control flow: If inside If, L levels deep. protobufjs' default recursion limit (100 messages, as
 * protoc's) stopped mc at about 32 levels with "max depth exceeded"; mc now reads and writes up to MAX_MESSAGE_DEPTH
 * message levels, and a pathological nesting fails as E_FORMAT instead of overflowing the stack.
 */
import { attr, Graph, McError, type Model, ModelBuilder, Node, Tensor, Value } from '@mc/ir';
import { runModel } from '@mc/verify';
import { describe, expect, test } from 'vitest';
import { readOnnx, writeOnnx } from '../src/index.js';

/** A graph computing Identity(x) of the outermost graph's `x` (read by name from the enclosing scope). */
function leaf(name: string): Graph {
  const g = new Graph(name);
  const n = new Node({ opType: 'Identity', name: `${name}_id`, inputs: [new Value('x')], outputs: [`${name}_y`] });
  g.append(n);
  const o = n.outputs[0]!;
  o.dtype = 'float32';
  o.shape = [2];
  g.addOutput(o);
  return g;
}

/** `levels` nested Ifs: the then-branch of each holds the next If; every else-branch is a leaf. Output = x. */
function nestedIf(levels: number): Model {
  let inner = leaf('l0');
  for (let l = 1; l < levels; l++) {
    const g = new Graph(`l${l}`);
    const n = new Node({
      opType: 'If',
      name: `if${l}`,
      inputs: [new Value('c')],
      outputs: [`y${l}`],
      attributes: { then_branch: attr.graph(inner), else_branch: attr.graph(leaf(`e${l}`)) },
    });
    g.append(n);
    const o = n.outputs[0]!;
    o.dtype = 'float32';
    o.shape = [2];
    g.addOutput(o);
    inner = g;
  }
  const b = new ModelBuilder({ opset: 17, irVersion: 8 });
  b.input('x', 'float32', [2]);
  const c = b.input('c', 'bool', []);
  b.output(b.node('If', [c], { then_branch: attr.graph(inner), else_branch: attr.graph(leaf('top_else')) }, { name: 'if_top' }), 'y');
  return b.build();
}

function depthOf(m: Model): number {
  let d = 0;
  let g: Graph | undefined = m.graph;
  while (g !== undefined) {
    const a = g.nodes.find((n) => n.opType === 'If')?.attr('then_branch');
    g = a?.type === 'GRAPH' ? a.value : undefined;
    if (g !== undefined) d++;
  }
  return d;
}

/** A ModelProto whose graph holds a node holding an attribute holding a graph ... `levels` messages deep. */
function pathological(levels: number): Uint8Array {
  // Field tags (wire type 2): ModelProto.graph = 7, GraphProto.node = 1, NodeProto.attribute = 5, AttributeProto.g = 6.
  const tags = [(1 << 3) | 2, (5 << 3) | 2, (6 << 3) | 2];
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n > 127) {
      out.push((n & 127) | 128);
      n = Math.floor(n / 128);
    }
    out.push(n);
    return out;
  };
  // Build inside out: only the prefixes are stored, then written outermost first.
  const prefixes: number[][] = [];
  let len = 0;
  for (let i = levels - 1; i >= 0; i--) {
    const p = [i === 0 ? (7 << 3) | 2 : tags[(i - 1) % 3]!, ...varint(len)];
    prefixes.push(p);
    len += p.length;
  }
  const out = new Uint8Array(len);
  let o = 0;
  for (let i = prefixes.length - 1; i >= 0; i--) for (const b of prefixes[i]!) out[o++] = b;
  return out;
}

const feeds = (cond: boolean) => ({
  x: new Tensor('float32', [2], new Float32Array([1.5, -2])),
  c: new Tensor('bool', [], new Uint8Array([cond ? 1 : 0])),
});

describe('nested subgraphs', () => {
  test.each([50, 100])('%i nested If levels: read, written back byte-identical, depth kept', (levels) => {
    const bytes = writeOnnx(nestedIf(levels));
    const m = readOnnx(bytes, { file: `nested${levels}.onnx` });
    expect(depthOf(m)).toBe(levels);
    expect(writeOnnx(m)).toEqual(bytes);
  });

  test('30 nested If levels (the deepest onnxruntime-node 1.30 parses): the round trip runs in ORT, y = x', async () => {
    const m = readOnnx(writeOnnx(nestedIf(30)));
    for (const cond of [true, false]) {
      const { y } = await runModel(m, feeds(cond));
      expect(Array.from(y!.data as Float32Array)).toEqual([1.5, -2]);
    }
  });

  test('50 nested If levels: mc reads them, onnxruntime-node (protobuf limit 100) refuses with E_VERIFY, not a crash', async () => {
    const m = readOnnx(writeOnnx(nestedIf(50)));
    await expect(runModel(m, feeds(true))).rejects.toMatchObject({ code: 'E_VERIFY' });
  });

  test('100,000 nested messages: E_FORMAT naming the nesting, no stack overflow', () => {
    const bytes = pathological(100_000);
    let err: unknown;
    try {
      readOnnx(bytes, { file: 'deep.onnx' });
    } catch (e) {
      err = e;
    }
    expect(McError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: 'E_FORMAT', context: { file: 'deep.onnx' } });
    expect((err as Error).message).toMatch(/nests protobuf messages more than 1000 levels deep/);
  });
});
