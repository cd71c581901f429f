import * as tf from '@tensorflow/tfjs-core';
import { McError, Tensor, toFloat32, toNumbers, type Model, type Node, type Value, attrOf, slotOf } from '@mc/ir';
import { rules } from '../rules/index.js';
import type { RuleContext } from '../rules/types.js';
import { followBatch } from './follow-batch.js';
import { nchw, plain, type Val } from './layout.js';

/** Which float initializers train. Default: the rule table's weight/bias/γ/β slots. @internal */
export type TrainableFilter = (initializerName: string) => boolean;

/** Options of {@link compileModel}. @internal */
export interface CompileOptions {
  /** false = inference only (a teacher): no variables. */
  trainable?: boolean | TrainableFilter;
  /**
   * 'batch' (default when trainable): BatchNormalization trains on batch statistics and updates its running
   * mean/variance (kept in {@link TrainableGraph.state}); 'frozen': inference form, running statistics fixed.
   */
  batchNorm?: 'batch' | 'frozen';
  /** Running-statistics momentum: the node's `momentum` attribute when set, else this (default 0.99, Keras). */
  bnMomentum?: number;
}

/** Forward-run options. @internal */
export interface ForwardOptions {
  training: boolean;
  seed?: number;
  /** Layout of a 4-D first input; NHWC saves a transpose before the first conv. Default NCHW. */
  inputLayout?: 'NCHW' | 'NHWC';
  /** Return the logits (the input of a final Softmax/LogSoftmax) instead of the graph output. */
  logits?: boolean;
}

let nextGraphId = 0;
const isFloat = (t: Tensor) => t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float64';

/**
 * An IR model as a differentiable tfjs function. Trainable initializers become `tf.Variable`s (in the IR's own
 * layout, e.g. Conv weights OIHW), everything else constants; {@link writeBack} puts trained values into a clone.
 * @internal
 */
export class TrainableGraph {
  readonly params = new Map<string, tf.Variable>();
  /** Running mean/variance of BatchNormalization nodes that train on batch statistics (not trained by gradient). */
  readonly state = new Map<string, tf.Variable>();
  readonly constants = new Map<string, tf.Tensor>();
  /** Names of γ initializers of BatchNormalization nodes (for L1 slimming). */
  readonly bnScales: string[] = [];
  readonly inputs: Value[];
  readonly output: Value;
  /** The value scored by the loss: the graph output, or the input of a final Softmax/LogSoftmax. */
  readonly logits: Value;
  readonly outputKind: 'logits' | 'softmax' | 'logsoftmax';
  readonly #nodes: readonly Node[];
  readonly #opset: number;
  readonly #constOut = new Map<Value, Tensor>();
  readonly #bnMomentum: number;

  /** The model trained values are written back into (its own Reshape shapes kept). */
  readonly model: Model;

  constructor(model: Model, opts: CompileOptions = {}) {
    this.model = model;
    const g = followBatch(model).graph;
    this.#opset = model.opset('') ?? 13;
    this.#nodes = [...g.nodes];
    this.inputs = g.inputs.filter((v) => !v.isInitializer());
    const out = g.outputs[0];
    if (out === undefined) throw new McError('E_FORMAT', 'model has no outputs; nothing to train against');
    this.output = out;
    const last = out.producer();
    if (last !== undefined && (last.opType === 'Softmax' || last.opType === 'LogSoftmax') && slotOf(last, 'input') !== undefined) {
      this.logits = slotOf(last, 'input')!;
      this.outputKind = last.opType === 'Softmax' ? 'softmax' : 'logsoftmax';
    } else {
      this.logits = out;
      this.outputKind = 'logits';
    }
    const trainSlots = new Set<Value>();
    const stateSlots = new Set<Value>();
    const batchStats = opts.trainable !== false && (opts.batchNorm ?? 'batch') === 'batch';
    this.#bnMomentum = opts.bnMomentum ?? 0.99;
    for (const n of this.#nodes) {
      const rule = n.domain === '' || n.domain === 'ai.onnx' ? rules.get(n.opType) : undefined;
      if (rule === undefined) {
        throw new McError(
          'E_UNSUPPORTED',
          `${n.opType}${n.domain ? ` (domain ${n.domain})` : ''} node '${n.name}' cannot be trained: mc trains ${[...rules.keys()].join(', ')}; fold or replace it first`,
          { context: { node: n.name, opType: n.opType } },
        );
      }
      for (const i of rule.trainable) {
        const v = n.inputs[i];
        if (v?.isInitializer() && v.constValue?.dtype === 'float32') trainSlots.add(v);
      }
      if (n.opType === 'BatchNormalization' && slotOf(n, 'scale')?.isInitializer()) this.bnScales.push(slotOf(n, 'scale')!.name);
      if (n.opType === 'BatchNormalization' && batchStats) {
        const stats = [slotOf(n, 'input_mean'), slotOf(n, 'input_var')];
        if (stats.every((v) => v?.isInitializer() && v.constValue?.dtype === 'float32')) for (const v of stats) stateSlots.add(v!);
      }
      if (n.opType === 'Constant') {
        const a = n.attr('value');
        if (a?.type === 'TENSOR' && n.outputs[0]) this.#constOut.set(n.outputs[0], a.value);
      }
    }
    const graphId = nextGraphId++;
    const filter: TrainableFilter = typeof opts.trainable === 'function' ? opts.trainable : () => opts.trainable !== false;
    for (const [name, v] of g.initializers) {
      const c = v.constValue;
      if (c === undefined) continue;
      if (trainSlots.has(v) && filter(name)) {
        const init = tf.tensor(toFloat32(c), [...c.dims], 'float32');
        this.params.set(name, tf.variable(init, true, `mc/${graphId}/${name}`));
        init.dispose(); // the variable holds its own reference to the data
      } else if (stateSlots.has(v) && filter(name)) {
        const init = tf.tensor(toFloat32(c), [...c.dims], 'float32');
        this.state.set(name, tf.variable(init, false, `mc/${graphId}/${name}`));
        init.dispose();
      } else if (isFloat(c)) {
        this.constants.set(name, tf.tensor(toFloat32(c), [...c.dims], 'float32'));
      } else if (c.dtype !== 'string' && c.size < 1 << 20) {
        this.constants.set(name, tf.tensor(toNumbers(c), [...c.dims], 'int32'));
      }
    }
  }

  /** Runs the graph on NCHW (or NHWC) inputs; returns the output (or logits) in the IR's NCHW meaning. */
  forward(inputs: readonly tf.Tensor[], opts: ForwardOptions): tf.Tensor {
    const env = new Map<Value, Val>();
    this.inputs.forEach((v, i) => {
      const t = inputs[i];
      if (t === undefined) throw new McError('E_OPTION', `model input '${v.name}' was not fed`);
      env.set(v, { t, nhwc: i === 0 && t.rank === 4 && opts.inputLayout === 'NHWC' });
    });
    const lookup = (v: Value): Val | undefined => {
      const e = env.get(v);
      if (e !== undefined) return e;
      const p = this.params.get(v.name) ?? this.state.get(v.name) ?? this.constants.get(v.name);
      return p === undefined || !v.isInitializer() ? undefined : plain(p);
    };
    const want = opts.logits ? this.logits : this.output;
    const baseSeed = (opts.seed ?? 0) * 7919;
    for (let k = 0; k < this.#nodes.length; k++) {
      const node = this.#nodes[k]!;
      const ctx: { -readonly [K in keyof RuleContext]: RuleContext[K] } = {
        node,
        training: opts.training,
        seed: baseSeed + k,
        opset: this.#opset,
        input: (i) => {
          const v = node.inputs[i];
          const r = v === undefined ? undefined : lookup(v);
          if (r === undefined) {
            throw new McError(
              'E_FORMAT',
              `${node.opType} '${node.name}' input ${i} (${v?.name ?? 'missing'}) has no value; the graph is not in topological order or the input is missing`,
              { context: { node: node.name, opType: node.opType } },
            );
          }
          return r;
        },
        optional: (i) => {
          const v = node.inputs[i];
          return v === undefined || v.name === '' ? undefined : lookup(v);
        },
        constant: (i) => {
          const v = node.inputs[i];
          return v === undefined ? undefined : (v.constValue ?? this.#constOut.get(v));
        },
      };
      if (node.opType === 'BatchNormalization' && [3, 4].every((i) => this.state.has(node.inputs[i]?.name ?? ''))) {
        const momentum = node.attributes.has('momentum') ? attrOf(node, 'momentum') : this.#bnMomentum;
        ctx.batchStats = { momentum, update: (i, value) => this.state.get(node.inputs[i]!.name)!.assign(value) };
      }
      const outs = rules.get(node.opType)!.run(ctx as RuleContext);
      node.outputs.forEach((v, i) => {
        const o = outs[i];
        if (o !== undefined) env.set(v, o);
      });
      if (env.has(want)) break;
    }
    const r = env.get(want) ?? lookup(want);
    if (r === undefined) throw new McError('E_FORMAT', `model output '${want.name}' is not produced by any node`);
    return nchw(r);
  }

  /** Current weights (and BatchNormalization running statistics) as IR tensors, by initializer name. */
  weights(): Map<string, Tensor<'float32'>> {
    const out = new Map<string, Tensor<'float32'>>();
    for (const [name, v] of [...this.params, ...this.state]) out.set(name, new Tensor('float32', v.shape, v.dataSync() as Float32Array));
    return out;
  }

  /** Sets the variables from IR tensors (restoring a snapshot). */
  assign(weights: ReadonlyMap<string, Tensor<'float32'>>): void {
    for (const [name, t] of weights) {
      const v = this.params.get(name) ?? this.state.get(name);
      if (v !== undefined) tf.tidy(() => v.assign(tf.tensor(t.data, [...t.dims], 'float32')));
    }
  }

  /** A clone of `model` with the trained initializers; nodes, attributes, names and metadata untouched. */
  writeBack(model: Model = this.model): Model {
    const out = model.clone();
    for (const [name, t] of this.weights()) {
      const v = out.graph.initializers.get(name);
      if (v === undefined) throw new McError('E_INVARIANT', `initializer '${name}' vanished from the cloned model`);
      v.constValue = t;
    }
    return out;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    for (const v of this.state.values()) v.dispose();
    for (const t of this.constants.values()) t.dispose();
    this.params.clear();
    this.state.clear();
    this.constants.clear();
  }
}
