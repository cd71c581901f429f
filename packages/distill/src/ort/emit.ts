import { ModelBuilder, Tensor, type Attribute, type Node, type Shape, type Value } from '@mc/ir';

type AttrInput = number | bigint | string | readonly number[] | Tensor | Attribute;

/**
 * Emits ONNX nodes into the training graph under construction: fresh names, small constant helpers.
 * @internal
 */
export class Emitter {
  readonly b: ModelBuilder;
  #consts = new Map<string, Value>();

  constructor(opset: number) {
    this.b = new ModelBuilder({ opset });
  }

  op(opType: string, inputs: readonly (Value | undefined)[], attrs: Record<string, AttrInput> = {}): Value {
    return this.b.node(opType, inputs, attrs);
  }

  opN(opType: string, inputs: readonly (Value | undefined)[], attrs: Record<string, AttrInput>, outputs: number): Value[] {
    return this.b.nodeN(opType, inputs, attrs, { outputs });
  }

  /** An int64 1-D constant (shared between uses). */
  i64(values: readonly number[]): Value {
    const key = `i64:${values.join(',')}`;
    let v = this.#consts.get(key);
    if (v === undefined) {
      v = this.b.initializer(
        this.b.graph.uniqueName('mc_i64'),
        new Tensor('int64', [values.length], BigInt64Array.from(values.map(BigInt))),
      );
      this.#consts.set(key, v);
    }
    return v;
  }

  /** A float32 scalar constant (shared between uses). */
  f32(value: number): Value {
    const key = `f32:${value}`;
    let v = this.#consts.get(key);
    if (v === undefined) {
      v = this.b.initializer(this.b.graph.uniqueName('mc_f32'), new Tensor('float32', [], new Float32Array([value])));
      this.#consts.set(key, v);
    }
    return v;
  }

  /** A float32 1-D constant. */
  f32s(values: readonly number[]): Value {
    return this.b.initializer(this.b.graph.uniqueName('mc_f32s'), new Tensor('float32', [values.length], Float32Array.from(values)));
  }

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }

  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }

  scale(a: Value, s: number): Value {
    return s === 1 ? a : this.mul(a, this.f32(s));
  }

  sum(a: Value, axes: readonly number[], keepdims: boolean): Value {
    return this.op('ReduceSum', [a, this.i64(axes)], { keepdims: keepdims ? 1 : 0 });
  }

  /** `v` reshaped to the runtime shape of `like`. */
  reshapeLike(v: Value, like: Value): Value {
    return this.op('Reshape', [v, this.op('Shape', [like])]);
  }

  /**
   * The gradient of a broadcast operand: sums `g` (shape `out`) over the axes where `target` was broadcast, then
   * reshapes to `target`'s runtime shape. Undefined when the shapes are unknown.
   */
  unbroadcast(g: Value, target: Value, targetShape: Shape | undefined, out: Shape | undefined): Value | undefined {
    if (targetShape === undefined || out === undefined) return undefined;
    const lead = out.length - targetShape.length;
    if (lead < 0) return undefined;
    const axes: number[] = [];
    for (let i = 0; i < out.length; i++) {
      if (i < lead) axes.push(i);
      else {
        const t = targetShape[i - lead];
        const o = out[i];
        if (t === 1 && o !== 1) axes.push(i);
        else if (typeof t === 'number' && typeof o === 'number' && t !== o) return undefined;
      }
    }
    if (axes.length === 0) return g;
    return this.reshapeLike(this.sum(g, axes, true), target);
  }
}

/** Forward attributes of `node`, as they are, for a copy in the training graph. @internal */
export const attrsOf = (node: Node): Record<string, Attribute> => Object.fromEntries(node.attributes);
