import { Node, ModelBuilder } from '@mc/ir';
import { expect, test } from 'vitest';
import { readOnnx, writeOnnx } from '../src/index.js';

test('a used value with an empty name gets a fresh name in the file; an unused one stays omitted', () => {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [2]);
  const relu = new Node({ opType: 'Relu', name: 'r', inputs: [x], outputs: 2 }); // outputs named ''
  b.graph.append(relu);
  b.output(b.node('Neg', [relu.outputs[0]!]), 'y');
  const m = b.build();
  const back = readOnnx(writeOnnx(m));
  const [r, neg] = back.graph.nodes;
  expect(r!.outputs.map((v) => v.name)).toEqual(['r_out0', '']);
  expect(neg!.inputs[0]).toBe(r!.outputs[0]);
  expect(relu.outputs[0]!.name).toBe(''); // the IR is not changed by writing
});

test('value_info of a value whose producer was removed is not written', () => {
  const b = new ModelBuilder({ opset: 17 });
  const x = b.input('x', 'float32', [2]);
  const h = b.node('Relu', [x]);
  const y = b.node('Neg', [x]);
  b.output(y, 'y');
  const m = b.build();
  m.graph.valueInfo.push(h, y);
  m.graph.remove(h.producer()!);
  const back = readOnnx(writeOnnx(m));
  expect(back.graph.valueInfo.map((v) => v.name)).toEqual(['y']);
});
