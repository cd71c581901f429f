import { McError, type Model, type Node, REDUCE_OPS, Tensor, attr, attrOf, slotOf } from '@mc/ir';
import type { Emitter } from './emit.js';

/**
 * Raising a model's default-domain opset (per-axis DequantizeLinear needs 13, int4 `block_size` 21) changes the
 * meaning of ops whose signature changed in between. Each entry rewrites one such change, named by the version that
 * introduced it (https://github.com/onnx/onnx/blob/main/docs/Changelog.md); ops whose change cannot be rewritten here
 * are refused with E_UNSUPPORTED.
 */
type Upgrade = (n: Node, emit: Emitter) => void;

const i64 = (xs: readonly (number | bigint)[]) => new Tensor('int64', [xs.length], BigInt64Array.from(xs.map((x) => BigInt(x))));

/** An INTS attribute as exact int64 values (attrInts gives numbers, which lose INT64_MAX-style sentinels). */
function rawInts(n: Node, name: string): bigint[] | undefined {
  const a = n.attr(name);
  return a?.type === 'INTS' ? [...a.value] : undefined;
}
const f32 = (x: number) => new Tensor('float32', [], new Float32Array([x]));

/** Moves an INTS attribute to input `index` (absent attribute: input left empty). */
function attrToInput(n: Node, emit: Emitter, name: string, index: number): void {
  const v = rawInts(n, name);
  n.attributes.delete(name);
  if (v !== undefined) n.replaceInput(index, emit.init(`${n.name || n.opType}_${name}`, i64(v)));
}

const axesToInput: Upgrade = (n, emit) => attrToInput(n, emit, 'axes', 1);

const UPGRADES: Record<string, [version: number, Upgrade][]> = {
  Squeeze: [[13, axesToInput]],
  Unsqueeze: [[13, axesToInput]],
  ReduceSum: [[13, axesToInput]],
  ...Object.fromEntries(REDUCE_OPS.filter((op) => op !== 'ReduceSum').map((op) => [op, [[18, axesToInput]]])),
  Slice: [
    [
      10,
      (n, emit) => {
        const starts = rawInts(n, 'starts') ?? [];
        const ends = rawInts(n, 'ends') ?? [];
        const axes = rawInts(n, 'axes');
        for (const k of ['starts', 'ends', 'axes']) n.attributes.delete(k);
        const base = n.name || 'Slice';
        n.replaceInput(1, emit.init(`${base}_starts`, i64(starts)));
        n.replaceInput(2, emit.init(`${base}_ends`, i64(ends)));
        if (axes !== undefined) n.replaceInput(3, emit.init(`${base}_axes`, i64(axes)));
      },
    ],
  ],
  TopK: [
    [
      10,
      (n, emit) => {
        const k = n.attrInt('k', 1)!;
        n.attributes.delete('k');
        n.replaceInput(1, emit.init(`${n.name || 'TopK'}_k`, i64([k])));
      },
    ],
  ],
  Clip: [
    [
      11,
      (n, emit) => {
        const lo = n.attrFloat('min');
        const hi = n.attrFloat('max');
        n.attributes.delete('min');
        n.attributes.delete('max');
        if (lo !== undefined) n.replaceInput(1, emit.init(`${n.name || 'Clip'}_min`, f32(lo)));
        if (hi !== undefined) n.replaceInput(2, emit.init(`${n.name || 'Clip'}_max`, f32(hi)));
      },
    ],
  ],
  Pad: [
    [
      11,
      (n, emit) => {
        const pads = rawInts(n, 'pads') ?? [];
        const value = attrOf(n, 'value');
        n.attributes.delete('pads');
        n.attributes.delete('value');
        n.replaceInput(1, emit.init(`${n.name || 'Pad'}_pads`, i64(pads)));
        if (value !== 0) n.replaceInput(2, emit.init(`${n.name || 'Pad'}_value`, f32(value)));
      },
    ],
  ],
  Split: [[13, (n, emit) => attrToInput(n, emit, 'split', 1)]],
  // Dropout is the identity at inference; opset 12 moved `ratio` to an input.
  Dropout: [
    [
      12,
      (n) => {
        n.attributes.delete('ratio');
        n.attributes.delete('is_test');
      },
    ],
  ],
  BatchNormalization: [[9, (n) => n.attributes.delete('spatial')]],
  Softmax: [[13, softmaxUpgrade]],
  LogSoftmax: [[13, softmaxUpgrade]],
  Hardmax: [[13, softmaxUpgrade]],
};

/**
 * Before opset 13 Softmax-like ops flatten the input to 2-D at `axis` (default 1) and normalise over everything after
 * it. When `axis` is not the last dimension that is rewritten as Shape → Flatten(axis) → op(axis=-1) → Reshape.
 */
function softmaxUpgrade(n: Node, emit: Emitter): void {
  const x = slotOf(n, 'input')!;
  const axis = attrOf(n, 'axis', 12); // the node is from before opset 13, which this rule upgrades across
  const rank = x.shape?.length;
  if (rank !== undefined && (axis === -1 || axis === rank - 1)) {
    n.setAttr('axis', attr.int(-1));
    return;
  }
  const [shape] = emit.node(n, 'Shape', [x], { name: `${n.name || n.opType}_shape`, dtypes: ['int64'] });
  const [flat] = emit.node(n, 'Flatten', [x], {
    name: `${n.name || n.opType}_flatten`,
    attrs: { axis: attr.int(axis) },
    dtypes: [x.dtype],
  });
  n.replaceInput(0, flat!);
  n.setAttr('axis', attr.int(-1));
  const y = n.outputs[0]!;
  const uses = [...y.uses()];
  const g = n.graph!;
  const next = g.nodes[g.nodes.indexOf(n) + 1];
  const [back] = emit.node(next, 'Reshape', [y, shape!], { name: `${n.name || n.opType}_unflatten`, dtypes: [y.dtype] });
  back!.shape = y.shape;
  const reshape = back!.producer()!;
  for (const u of uses) u.node.replaceInput(u.index, back!);
  if (y.isGraphOutput()) {
    y.replaceAllUsesWith(back!, { graphOutputs: true });
    reshape.replaceInput(0, y);
  }
  y.shape = undefined;
}

/** Ops that changed incompatibly and that no rewrite above handles. */
const REFUSED: Record<string, number> = { Upsample: 10, Resize: 11, Scatter: 11 };

/** Why the model's opset cannot be raised to `min` (the first node that changed incompatibly), or undefined. @internal */
export function opsetRefusal(model: Model, min: number): string | undefined {
  const cur = model.opset('') ?? 1;
  if (cur >= min) return undefined;
  for (const n of model.graph.nodes) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const refused = REFUSED[n.opType];
    if (refused !== undefined && cur < refused && refused <= min)
      return `${n.opType} '${n.name}' changed meaning between opset ${cur} and ${min}`;
  }
  return undefined;
}

/**
 * Raises the default-domain opset to at least `min`, rewriting attribute-to-input changes and refusing the rest.
 * @internal
 */
export function raiseOpset(model: Model, min: number, emit: Emitter): void {
  const cur = model.opset('') ?? 1;
  if (cur >= min) return;
  const g = model.graph;
  for (const n of [...g.nodes]) {
    if (n.domain !== '' && n.domain !== 'ai.onnx') continue;
    const refused = REFUSED[n.opType];
    if (refused !== undefined && cur < refused && refused <= min) {
      throw new McError(
        'E_UNSUPPORTED',
        `${n.opType} '${n.name}' changed meaning between opset ${cur} and ${min}, which this mode needs; convert the model to opset ${min} first (onnx.version_converter), or use mode fp16 or int4, which keep the opset`,
        { context: { node: n.name, opType: n.opType } },
      );
    }
    for (const [v, up] of UPGRADES[n.opType] ?? []) if (cur < v && v <= min) up(n, emit);
  }
  model.opsetImports.set('', min);
  model.opsetImports.delete('ai.onnx');
  const ir = min >= 21 ? 10 : min >= 19 ? 9 : min >= 15 ? 8 : 7;
  if (model.irVersion < ir) model.irVersion = ir;
}
