import { type Model, Node, Tensor, Value, slotOf } from '@mc/ir';

/** Ops that move or select values: an int8 tensor passes through them unchanged (onnxruntime has int8 kernels). */
const MOVES_VALUES = new Set(['MaxPool', 'Reshape', 'Transpose', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity']);

const isOp = (n: Node | undefined, op: string): n is Node => n !== undefined && n.opType === op && n.domain === '';
const isConst = (v: Value | undefined): v is Value =>
  v !== undefined && v.isInitializer() && !v.isGraphInput() && v.constValue !== undefined;
/** A per-tensor activation DequantizeLinear: non-constant input, scalar scale. */
const activationDQ = (n: Node | undefined): n is Node =>
  isOp(n, 'DequantizeLinear') &&
  !isConst(slotOf(n, 'x')) &&
  isConst(slotOf(n, 'x_scale')) &&
  slotOf(n, 'x_scale')!.constValue!.size === 1 &&
  (slotOf(n, 'x_zero_point') === undefined || isConst(slotOf(n, 'x_zero_point')));

/**
 * Moves the uses of `old` (the output of a QuantizeLinear about to go) to the fused node's output, which takes the
 * name of the layer output `named` (the layer's own tensor, now in int8).
 */
function takeOver(node: Node, old: Value, named: Value): void {
  const fresh = node.outputs[0]!;
  old.replaceAllUsesWith(fresh, { graphOutputs: true });
  fresh.type = old.type;
  fresh.name = named.name;
  named.name = `${named.name}__float`;
}

/**
 * Rewrites an int8-static QDQ graph into onnxruntime's QOperator form: DequantizeLinear moves forward through
 * value-moving ops (MaxPool, Reshape, …, which then run on int8), a `Q(x, s, z)` of `DQ(q, s, z)` with the same
 * parameters is `q`, and every `DQ(x) → Conv/MatMul(DQ(w)[, DQ(b)]) → Q` group becomes one QLinearConv / QLinearMatMul
 * whose int32 bias needs no scale tensor. This is what onnxruntime turns the QDQ graph into when it loads it (its
 * QDQ selector/actions), written out: fewer nodes and tensors, the same int8 arithmetic. Returns how many layers
 * were fused.
 * @internal
 */
export function toQOperator(model: Model): number {
  const g = model.graph;
  // 1. DQ forward through value-moving ops.
  for (const m of [...g.nodes]) {
    if (m.domain !== '' || !MOVES_VALUES.has(m.opType)) continue;
    const d = slotOf(m, 'input')?.producer();
    const y = m.outputs[0]!;
    if (!activationDQ(d) || y.isGraphOutput() || m.outputs.slice(1).some((o) => o.uses().length > 0 || o.isGraphOutput())) continue;
    const q = slotOf(d, 'x')!;
    m.replaceInput(0, q);
    const dq = new Node({
      opType: 'DequantizeLinear',
      inputs: [y, slotOf(d, 'x_scale'), ...(slotOf(d, 'x_zero_point') === undefined ? [] : [slotOf(d, 'x_zero_point')])],
      outputs: [new Value('')],
    });
    g.insertAfter(m, dq);
    const out = dq.outputs[0]!;
    for (const u of [...y.uses()]) if (u.node !== dq) u.node.replaceInput(u.index, out);
    out.name = g.uniqueName(`${y.name}_dq`);
    out.type = y.type;
    y.dtype = q.dtype;
  }
  // 2. Q(DQ(q, s, z), s, z) = q.
  for (const qn of [...g.nodes]) {
    if (!isOp(qn, 'QuantizeLinear')) continue;
    const d = slotOf(qn, 'x')?.producer();
    if (
      !activationDQ(d) ||
      slotOf(d, 'x_scale') !== slotOf(qn, 'y_scale') ||
      slotOf(d, 'x_zero_point') !== slotOf(qn, 'y_zero_point') ||
      qn.outputs[0]!.isGraphOutput()
    )
      continue;
    qn.outputs[0]!.replaceAllUsesWith(slotOf(d, 'x')!);
    g.remove(qn);
  }
  // 3. DQ → Conv/MatMul → Q groups.
  let fused = 0;
  for (const layer of [...g.nodes]) {
    if (!isOp(layer, 'Conv') && !isOp(layer, 'MatMul')) continue;
    const [x, w, b] = layer.inputs;
    const dx = x?.producer();
    const dw = w?.producer();
    const db = b?.producer();
    const y = layer.outputs[0]!;
    const users = y.uses();
    const qy = users.length === 1 ? users[0]!.node : undefined;
    if (!activationDQ(dx) || !isOp(dw, 'DequantizeLinear') || !isConst(slotOf(dw, 'x')) || !isOp(qy, 'QuantizeLinear') || y.isGraphOutput())
      continue;
    if (b !== undefined && (!isOp(db, 'DequantizeLinear') || !isConst(slotOf(db, 'x')) || slotOf(db, 'x')!.constValue!.dtype !== 'int32'))
      continue;
    if (slotOf(qy, 'y_zero_point') === undefined || slotOf(dx, 'x_zero_point') === undefined) continue;
    const wt = slotOf(dw, 'x')!.constValue!;
    const z = slotOf(dw, 'x_zero_point')?.constValue;
    // Symmetric weights: one scalar zero instead of a zero per channel (both are valid QLinearConv/QLinearMatMul).
    const zero = z === undefined || (!z.isLazy && Array.prototype.every.call(z.data, (v: number) => v === 0));
    const wz = zero
      ? g.addInitializer(
          `${slotOf(dw, 'x')!.name}_zero_point`,
          new Tensor(wt.dtype, [], (wt.dtype === 'int8' ? new Int8Array(1) : new Uint8Array(1)) as never),
        )
      : slotOf(dw, 'x_zero_point')!;
    const common = [
      slotOf(dx, 'x'),
      slotOf(dx, 'x_scale'),
      slotOf(dx, 'x_zero_point'),
      slotOf(dw, 'x'),
      slotOf(dw, 'x_scale'),
      wz,
      slotOf(qy, 'y_scale'),
      slotOf(qy, 'y_zero_point'),
    ];
    const fusedNode = new Node({
      opType: layer.opType === 'Conv' ? 'QLinearConv' : 'QLinearMatMul',
      name: layer.name,
      inputs: layer.opType === 'Conv' && db !== undefined ? [...common, slotOf(db, 'x')] : common,
      outputs: [new Value('')],
      attributes: layer.opType === 'Conv' ? [...layer.attributes] : [],
    });
    for (const [k, v] of layer.metadataProps) fusedNode.metadataProps.set(k, v);
    g.insertBefore(layer, fusedNode);
    takeOver(fusedNode, qy.outputs[0]!, y);
    g.remove(qy);
    g.remove(layer);
    fused++;
  }
  g.removeDeadNodes();
  g.removeUnusedInitializers();
  return fused;
}
