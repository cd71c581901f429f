import { McError } from './errors.js';
import type { Model } from './model.js';
import { dimSymbols } from './symbolic.js';
import type { Dim } from './types.js';

/**
 * Sizes given to symbolic input dimensions when nothing says otherwise, by kind of dim (see {@link AssumedDim}).
 *
 * @example
 * ```ts
 * DEFAULT_DIM_SIZES.sequence; // 128
 * ```
 */
export const DEFAULT_DIM_SIZES = { batch: 1, sequence: 128, spatial: 224, other: 1 } as const;

/** A symbolic input dimension that took a default size, and why. */
export interface AssumedDim {
  /** The graph input and axis where the dim first appears. */
  input: string;
  axis: number;
  /** The dim's symbol (`'batch'`), or `'<input>[<axis>]'` for a dim without a name. */
  symbol: string;
  size: number;
  /**
   * 'batch' (named like a batch, or axis 0), 'sequence' (named like a sequence, or axis 1 of integer ids), 'spatial'
   * (named height/width, or an axis after 0 of a 4-D float input: an image), 'other'.
   */
  kind: keyof typeof DEFAULT_DIM_SIZES;
}

/** Concrete sizes for a model's symbolic input dims. */
export interface DimSizesOptions {
  /** Concrete shapes of graph inputs by name: every dim of the input takes the given size. */
  inputShapes?: Readonly<Record<string, readonly number[]>>;
  /** Sizes of named symbolic dims (`{batch: 4, sequence: 512}`). */
  dims?: Readonly<Record<string, number>>;
}

const BATCH = /^(n|b|bs|batch.*|.*_batch|.*batch_size.*|num_images)$/i;
const SEQUENCE = /(seq|sequence|token|length|len|time|^t$|^s$|position|past|step)/i;
const SPATIAL = /^(h|w|height|width|.*_height|.*_width|height_.*|width_.*)$/i;
/**
 * Names exporters give dims the user did not name: onnxruntime's and tf2onnx's 'unk__12', torch's 'x_dynamic_axes_1',
 * Paddle2ONNX's 'p2o.DynamicDimension.0', ours 'x[1]'.
 */
const UNNAMED = /^unk__|_dynamic_axes_\d+$|^p2o\.DynamicDimension\.\d+$|\[\d+\]$/;

function kindOf(symbol: string, axis: number, integer: boolean, rank: number): AssumedDim['kind'] {
  if (UNNAMED.test(symbol)) return axis === 0 ? 'batch' : axis === 1 && integer ? 'sequence' : !integer && rank === 4 ? 'spatial' : 'other';
  if (BATCH.test(symbol)) return 'batch';
  if (SEQUENCE.test(symbol)) return 'sequence';
  if (SPATIAL.test(symbol)) return 'spatial';
  return 'other';
}

/** A symbol for an unnamed dim: parsable as one atom of a dim expression. */
const unnamed = (input: string, axis: number): string => `${input.replace(/[*/+() ]/g, '_')}[${axis}]`;

/**
 * Gives every unnamed dim (unknown or '') of the model's graph inputs a symbol of its own, in place, and returns the
 * sizes of all input symbols: given ones (`inputShapes`, `dims`) first, defaults (batch 1, sequence 128, other 1) for
 * the rest (spatial 224), listed in `assumed`. Throws `E_OPTION` for an input name, rank or fixed size the model does not have.
 * @internal
 */
export function bindInputDims(model: Model, opts: DimSizesOptions): { sizes: Map<string, number>; assumed: AssumedDim[] } {
  const sizes = new Map<string, number>(Object.entries(opts.dims ?? {}));
  const inputs = model.graph.inputs.filter((v) => v.constValue === undefined && !v.isInitializer());
  for (const name of Object.keys(opts.inputShapes ?? {})) {
    if (!inputs.some((v) => v.name === name)) {
      throw new McError(
        'E_OPTION',
        `input shape given for '${name}', but the model has no such input; its inputs are ${inputs.map((v) => `'${v.name}'`).join(', ')}`,
      );
    }
  }
  for (const v of inputs) {
    if (v.shape === undefined) continue;
    const shape: Dim[] = v.shape.map((d, axis) => (d === null || d === '' ? unnamed(v.name, axis) : d));
    v.shape = shape;
    const given = opts.inputShapes?.[v.name];
    if (given === undefined) continue;
    if (given.length !== shape.length) {
      throw new McError(
        'E_OPTION',
        `input '${v.name}' has rank ${shape.length} ([${shape.join(', ')}]), the given shape [${given.join(', ')}] has ${given.length} dims; give one size per dim`,
      );
    }
    shape.forEach((d, axis) => {
      const n = given[axis]!;
      if (typeof d === 'number') {
        if (d !== n)
          throw new McError('E_OPTION', `input '${v.name}' has size ${d} on axis ${axis}, the given shape says ${n}; give ${d} there`);
      } else if (dimSymbols(d).length === 1 && dimSymbols(d)[0] === d) sizes.set(d, n);
    });
  }
  const assumed: AssumedDim[] = [];
  for (const v of inputs) {
    const integer = v.dtype === 'int64' || v.dtype === 'int32';
    v.shape?.forEach((d, axis) => {
      if (typeof d !== 'string') return;
      for (const symbol of dimSymbols(d)) {
        if (sizes.has(symbol)) continue;
        const kind = kindOf(symbol, axis, integer, v.shape?.length ?? 0);
        const size = DEFAULT_DIM_SIZES[kind];
        sizes.set(symbol, size);
        assumed.push({ input: v.name, axis, symbol, size, kind });
      }
    });
  }
  return { sizes, assumed };
}
