import { inferShapes, McError, type Model, type Node, type Shape, type Value, attrOf, slotOf } from '@mc/ir';
import { followBatch } from '../graph/follow-batch.js';
import { Emitter } from './emit.js';
import { copyForward, ortRules, type OrtCtx } from './rules.js';

/** The loss a training graph computes from the logits z: (1 − α)·CE(y, σ(z)) + α·T²·CE(σ(t/T), σ(z/T)). @internal */
export interface OrtLoss {
  /** Weight of the soft (teacher) term; 0 = plain cross-entropy with the one-hot targets. */
  alpha: number;
  temperature: number;
}

/** Options of {@link buildOrtGraph}. @internal */
export interface OrtGraphOptions {
  /** Initializers fed as inputs and differentiated. */
  trainable: ReadonlySet<string>;
  /** BatchNormalization running statistics fed as inputs (and, in training, updated from batch statistics). */
  state: ReadonlySet<string>;
  /** Running-statistics momentum when a node has no `momentum` attribute. */
  bnMomentum: number;
  /** Present: a training graph (loss and gradients); absent: forward only, the logits. */
  loss?: OrtLoss;
}

/** A generated graph and the names to feed and read. @internal */
export interface OrtGraph {
  model: Model;
  input: string;
  /** Weight and state inputs (initializer names of the trained model). */
  weights: string[];
  /** Weight name → output holding dLoss/dWeight. */
  grads: Map<string, string>;
  /** Running-statistic name → output holding its new value. */
  stateOut: Map<string, string>;
  /** Dropout masks to feed: input name, ratio, per-sample dims, and the node index (its seed offset). */
  dropouts: { name: string; ratio: number; dims: number[]; node: number }[];
  logits: string;
  /** The class count (last dim of the logits) of a training graph. */
  classes?: number;
  loss?: string;
  /** [N, K] float one-hot (or any distribution) targets of the hard term. */
  target?: string;
  /** [N, K] teacher logits of the soft term. */
  teacher?: string;
}

/** The value scored by the loss: the output, or the input of a final Softmax/LogSoftmax. @internal */
export function logitsOf(model: Model): { logits: Value; skip: Node | undefined } {
  const out = model.graph.outputs[0];
  if (out === undefined) throw new McError('E_FORMAT', 'model has no outputs; nothing to train against');
  const last = out.producer();
  if (last !== undefined && (last.opType === 'Softmax' || last.opType === 'LogSoftmax') && slotOf(last, 'input') !== undefined)
    return { logits: slotOf(last, 'input')!, skip: last };
  return { logits: out, skip: undefined };
}

/** A batch size no real dimension has: shapes are inferred with it, then it becomes the symbol 'N'. */
const PROBE_BATCH = 7919;

/**
 * Inferred shapes by value name. The first input's leading dim is set to {@link PROBE_BATCH} so that Reshape's 0/−1
 * resolve to numbers, then every dim equal to it reads 'N' (the trained batch).
 */
function shapesOf(model: Model): Map<string, Shape | undefined> {
  const m = model.clone();
  const x = m.graph.inputs.find((v) => !v.isInitializer());
  if (x?.shape !== undefined && x.shape.length > 0) x.shape = [PROBE_BATCH, ...x.shape.slice(1)];
  for (const n of m.graph.nodes) for (const o of n.outputs) if (o !== x) o.shape = undefined;
  inferShapes(m);
  const sym = (s: Shape | undefined) => s?.map((d) => (d === PROBE_BATCH ? 'N' : d));
  const out = new Map<string, Shape | undefined>();
  for (const v of [...m.graph.inputs, ...m.graph.initializers.values()])
    out.set(v.name, v.isInitializer() ? (v.shape ?? v.constValue?.dims) : sym(v.shape));
  for (const n of m.graph.nodes) for (const o of n.outputs) out.set(o.name, sym(o.shape));
  return out;
}

/**
 * Why the onnxruntime engine cannot train `model`: the first op with no reverse rule on a path that needs a
 * gradient, or whose rule does not cover its attributes/shapes. Undefined when it can.
 * @internal
 */
export function ortUnsupported(model: Model, trainable: ReadonlySet<string>): string | undefined {
  try {
    buildOrtGraph(model, { trainable, state: new Set(), bnMomentum: 0.99, loss: { alpha: 0, temperature: 1 } });
    return undefined;
  } catch (e) {
    if (e instanceof McError && e.code === 'E_UNSUPPORTED') return e.message;
    throw e;
  }
}

/**
 * Generates one ONNX graph for a training configuration: inputs are the batch, the weights (and running statistics,
 * dropout masks, targets); outputs the loss and the gradient of every trainable weight, by reverse-mode
 * differentiation over the IR with standard ONNX ops (rules in `rules.ts`). Without `loss`, the forward only.
 * @internal
 */
export function buildOrtGraph(original: Model, opts: OrtGraphOptions): OrtGraph {
  const model = followBatch(original);
  const src = model.graph;
  // A training graph needs opset ≥ 17 ops (ReduceSum axes as input, ScatterElements reduction); a forward-only graph
  // (evaluation, a teacher) keeps the model's own opset so copied nodes keep their meaning.
  const opset = opts.loss === undefined ? (model.opset('') ?? 17) : Math.max(17, model.opset('') ?? 17);
  const e = new Emitter(opset);
  const b = e.b;
  const shapes = shapesOf(model);
  const training = opts.loss !== undefined;
  const xIn = src.inputs.filter((v) => !v.isInitializer());
  if (xIn.length !== 1) throw new McError('E_UNSUPPORTED', `model has ${xIn.length} inputs; mc trains single-input classifiers`);
  const x0 = xIn[0]!;
  const env = new Map<string, Value>();
  // Token ids (a language model) stay int64; everything else is fed as float32.
  const xType = x0.dtype === 'int64' || x0.dtype === 'int32' ? x0.dtype : 'float32';
  env.set(x0.name, b.input(x0.name, xType, ['N', ...(x0.shape ?? []).slice(1)]));
  const weights: string[] = [];
  for (const [name, v] of src.initializers) {
    const c = v.constValue;
    if (c === undefined) continue;
    if (opts.trainable.has(name) || opts.state.has(name)) {
      env.set(name, b.input(name, 'float32', c.dims));
      weights.push(name);
    } else env.set(name, b.initializer(name, c));
  }
  const { logits, skip } = logitsOf(model);
  const needs = new Set<string>(opts.trainable);
  const saved = new Map<Node, Value[]>();
  const dropouts: OrtGraph['dropouts'] = [];
  const stateOut = new Map<string, string>();
  const unsupported = (node: Node, why: string) =>
    new McError('E_UNSUPPORTED', `${node.opType} node '${node.name}' cannot be trained by the onnxruntime engine: ${why}`, {
      context: { node: node.name, opType: node.opType },
    });
  const ctxFor = (node: Node, k: number): OrtCtx => ({
    e,
    node,
    training,
    opset,
    x: (i) => {
      const v = node.inputs[i];
      if (v === undefined || v.name === '') return undefined;
      const r = env.get(v.name);
      if (r === undefined)
        throw new McError(
          'E_FORMAT',
          `${node.opType} '${node.name}' input ${i} (${v.name}) has no value; the graph is not in topological order`,
          { context: { node: node.name } },
        );
      return r;
    },
    y: (i) => env.get(node.outputs[i]!.name)!,
    saved: (i) => saved.get(node)?.[i],
    inShape: (i) => shapes.get(node.inputs[i]?.name ?? ''),
    outShape: (i) => shapes.get(node.outputs[i]?.name ?? ''),
    constant: (i) => node.inputs[i]?.constValue,
    dropoutMask: (ratio) => {
      const dims = shapes.get(slotOf(node, 'data')!.name)!.slice(1) as number[];
      const name = b.graph.uniqueName(`mc.mask.${k}`);
      dropouts.push({ name, ratio, dims, node: k });
      return b.input(name, 'float32', ['N', ...dims]);
    },
    stateOut: (i, v) => {
      const name = node.inputs[i]!.name;
      if (!opts.state.has(name)) return;
      const out = b.output(e.op('Identity', [v]), `state.${name}`, { dtype: 'float32' });
      stateOut.set(name, out.name);
    },
    bnMomentum:
      node.opType === 'BatchNormalization' && [3, 4].every((i) => opts.state.has(node.inputs[i]?.name ?? ''))
        ? node.attributes.has('momentum')
          ? attrOf(node, 'momentum')
          : opts.bnMomentum
        : undefined,
  });

  // ---- forward ----
  const order = [...src.nodes];
  const ran: { node: Node; k: number }[] = [];
  for (let k = 0; k < order.length; k++) {
    const node = order[k]!;
    if (node === skip) continue;
    const rule = node.domain === '' || node.domain === 'ai.onnx' ? ortRules.get(node.opType) : undefined;
    const ctx = ctxFor(node, k);
    const wantsGrad = rule?.constant !== true && node.inputs.some((v) => v !== undefined && needs.has(v.name));
    let outs: Value[];
    if (!training) {
      // Forward only (evaluation, a teacher): the rule's forward where its checks pass (explicit pads, inference BN).
      outs =
        (rule?.forward !== undefined && rule.check?.(node, ctx.inShape, ctx.outShape) === undefined ? rule.forward(ctx) : undefined) ??
        copyForward(ctx);
    } else {
      if (wantsGrad && rule === undefined)
        throw unsupported(
          node,
          `no gradient rule for ${node.opType}${node.domain ? ` (domain ${node.domain})` : ''}; the engine differentiates ${[...ortRules.keys()].join(', ')}`,
        );
      const why = rule?.check?.(node, ctx.inShape, ctx.outShape);
      if (why !== undefined && (wantsGrad || rule?.forward !== undefined)) throw unsupported(node, why);
      outs = rule?.forward?.(ctx) ?? copyForward(ctx);
    }
    node.outputs.forEach((v, i) => {
      if (outs[i] !== undefined) env.set(v.name, outs[i]!);
      if (wantsGrad && rule !== undefined) needs.add(v.name);
    });
    saved.set(node, outs);
    if (wantsGrad) ran.push({ node, k });
  }
  const z = env.get(logits.name);
  if (z === undefined) throw new McError('E_FORMAT', `model output '${logits.name}' is not produced by any node`);
  const zOut = b.output(e.op('Identity', [z]), 'mc.logits', { dtype: 'float32' });
  const result: OrtGraph = { model: b.model, input: x0.name, weights, grads: new Map(), stateOut, dropouts, logits: zOut.name };
  if (opts.loss === undefined) return result;

  // ---- loss and its gradient dL/dz, in closed form ----
  const { alpha, temperature: T } = opts.loss;
  const zShape = shapes.get(logits.name);
  const kk = zShape?.at(-1);
  if (zShape === undefined || zShape.length < 2 || typeof kk !== 'number') {
    throw new McError(
      'E_UNSUPPORTED',
      `logits '${logits.name}' have shape [${zShape?.join(', ') ?? '?'}]; the onnxruntime engine needs [batch, classes] or [batch, …, classes] with a known class count`,
    );
  }
  result.classes = kk;
  // Sequence logits [N, T, K] (a language model): every position is a row; the loss is the mean over all rows.
  const rowsOf = zShape.length > 2;
  const zRows = rowsOf ? e.op('Reshape', [z, e.i64([-1, kk])]) : z;
  const invB = e.op('Reciprocal', [e.op('Cast', [e.op('Shape', [zRows], { start: 0, end: 1 })], { to: 1 })]);
  let loss: Value | undefined;
  let dz: Value | undefined;
  const acc = (l: Value, g: Value) => {
    loss = loss === undefined ? l : e.add(loss, l);
    dz = dz === undefined ? g : e.add(dz, g);
  };
  if (alpha < 1) {
    const y = b.input('mc.target', 'float32', ['N', kk]);
    result.target = y.name;
    const logp = e.op('LogSoftmax', [zRows], { axis: -1 });
    const l = e.scale(e.mul(e.op('Neg', [e.sum(e.mul(y, logp), [0, 1], false)]), invB), 1 - alpha);
    acc(l, e.scale(e.mul(e.op('Sub', [e.op('Exp', [logp]), y]), invB), 1 - alpha));
  }
  if (alpha > 0) {
    const t = b.input('mc.teacher', 'float32', ['N', kk]);
    result.teacher = t.name;
    const p = e.op('Softmax', [e.scale(t, 1 / T)], { axis: -1 });
    const logq = e.op('LogSoftmax', [e.scale(zRows, 1 / T)], { axis: -1 });
    const l = e.scale(e.mul(e.op('Neg', [e.sum(e.mul(p, logq), [0, 1], false)]), invB), alpha * T * T);
    acc(l, e.scale(e.mul(e.op('Sub', [e.op('Exp', [logq]), p]), invB), alpha * T));
  }
  result.loss = b.output(e.op('Reshape', [loss!, e.i64([])]), 'mc.loss', { dtype: 'float32' }).name;

  // ---- backward ----
  const grads = new Map<string, Value>([[logits.name, rowsOf ? e.reshapeLike(dz!, z) : dz!]]);
  const addGrad = (name: string, g: Value) => {
    const old = grads.get(name);
    grads.set(name, old === undefined ? g : e.add(old, g));
  };
  for (let j = ran.length - 1; j >= 0; j--) {
    const { node, k } = ran[j]!;
    const dy = node.outputs.map((v) => grads.get(v.name));
    if (dy.every((g) => g === undefined)) continue;
    if (dy.length > 1 && dy.slice(1).some((g) => g !== undefined)) throw unsupported(node, 'a gradient reaches its second output');
    const need = node.inputs.map((v) => v !== undefined && needs.has(v.name));
    const rule = ortRules.get(node.opType)!;
    const gx = rule.backward(ctxFor(node, k), dy, need);
    node.inputs.forEach((v, i) => {
      if (v === undefined || !need[i]) return;
      const g = gx[i];
      if (g === undefined) throw unsupported(node, `no gradient for input ${i} (shapes unknown?)`);
      addGrad(v.name, g);
    });
  }
  for (const name of opts.trainable) {
    const g = grads.get(name) ?? e.mul(env.get(name)!, e.f32(0));
    result.grads.set(name, b.output(e.op('Identity', [g]), `grad.${name}`, { dtype: 'float32' }).name);
  }
  return result;
}
