import type { Attribute } from './attribute.js';
import type { Graph } from './graph.js';
import type { Model } from './model.js';
import type { Shape, TypeInfo } from './types.js';
import type { Value } from './value.js';

const dec = new TextDecoder();

function shapeText(s: Shape | undefined): string {
  return s === undefined ? '?' : `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}

/** A value's type in short form: `float32[1,3,224,224]`. */
export function typeText(t: TypeInfo | undefined): string {
  if (t === undefined) return '?';
  switch (t.kind) {
    case 'tensor':
      return `${t.dtype ?? '?'}${shapeText(t.shape)}`;
    case 'sparse_tensor':
      return `sparse ${t.dtype ?? '?'}${shapeText(t.shape)}`;
    case 'sequence':
      return `seq(${typeText(t.elem)})`;
    case 'optional':
      return `optional(${typeText(t.elem)})`;
    case 'map':
      return `map(${t.keyType}, ${typeText(t.value)})`;
    case 'opaque':
      return `opaque(${t.domain}.${t.name})`;
    default:
      return '?';
  }
}

function attrText(a: Attribute): string {
  switch (a.type) {
    case 'STRING':
      return JSON.stringify(dec.decode(a.value));
    case 'INT':
      return String(a.value);
    case 'FLOAT':
      return String(a.value);
    case 'INTS':
    case 'FLOATS':
      return `[${a.value.join(',')}]`;
    case 'TENSOR':
      return `tensor ${a.value.dtype}[${a.value.dims.join(',')}]`;
    case 'GRAPH':
      return `graph '${a.value.name}'`;
    default:
      return a.type.toLowerCase();
  }
}

function valueText(v: Value | undefined): string {
  return v === undefined ? '∅' : `%${v.name}`;
}

function printGraph(g: Graph, indent: string, lines: string[]): void {
  lines.push(`${indent}graph ${g.name} (`);
  for (const v of g.inputs) lines.push(`${indent}  in %${v.name}: ${typeText(v.type)}${v.constValue ? ' (initializer)' : ''}`);
  lines.push(`${indent}) -> (${g.outputs.map((v) => `%${v.name}: ${typeText(v.type)}`).join(', ')})`);
  for (const v of g.initializers.values()) {
    if (!g.inputs.includes(v)) lines.push(`${indent}  init %${v.name}: ${v.constValue!.dtype}[${v.constValue!.dims.join(',')}]`);
  }
  for (const v of g.sparseInitializers.values())
    lines.push(`${indent}  sparse %${v.name}: ${v.sparseValue!.values.size} of [${v.sparseValue!.dims.join(',')}]`);
  for (const n of g.nodes) {
    const attrs = [...n.attributes].map(([k, a]) => `${k}=${attrText(a)}`).join(', ');
    const op = n.domain === '' ? n.opType : `${n.domain}::${n.opType}`;
    lines.push(
      `${indent}  ${n.outputs.map((o) => `%${o.name}`).join(', ')} = ${op}${attrs ? `<${attrs}>` : ''}(${n.inputs.map(valueText).join(', ')})${n.name ? `  # ${n.name}` : ''}`,
    );
    for (const a of n.attributes.values()) {
      if (a.type === 'GRAPH') printGraph(a.value, `${indent}    `, lines);
      if (a.type === 'GRAPHS') for (const sg of a.value) printGraph(sg, `${indent}    `, lines);
    }
  }
}

/**
 * A stable text form of a model, for snapshots, `mc inspect` and error context.
 *
 * @example
 * ```ts
 * expect(printModel(model)).toMatchSnapshot();
 * ```
 */
export function printModel(model: Model): string {
  const lines: string[] = [];
  const opsets = [...model.opsetImports].map(([d, v]) => `${d || 'ai.onnx'}:${v}`).join(', ');
  lines.push(`model ir=${model.irVersion} opset={${opsets}} producer=${model.producerName} ${model.producerVersion}`.trimEnd());
  printGraph(model.graph, '', lines);
  for (const f of model.functions) {
    lines.push(`function ${f.domain}.${f.name}`);
    printGraph(f.graph, '  ', lines);
  }
  return `${lines.join('\n')}\n`;
}
