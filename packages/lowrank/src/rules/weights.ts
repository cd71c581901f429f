import { McError, Tensor, type Node } from '@mc/ir';

/** f64 copy of a float weight; undefined for dtypes the kernels do not handle. @internal */
export function readWeight(t: Tensor): { w: Float64Array; dtype: 'float32' | 'float64' } | undefined {
  if (t.dtype === 'float64') return { w: Float64Array.from(t.data as Float64Array), dtype: 'float64' };
  if (t.dtype === 'float32') return { w: Float64Array.from(t.data as Float32Array), dtype: 'float32' };
  return undefined;
}

/** Throws E_NUMERIC when the weight holds NaN or ±Inf (before any work starts). @internal */
export function checkFinite(w: Float64Array, node: Node): void {
  for (let i = 0; i < w.length; i++) {
    if (!Number.isFinite(w[i])) {
      throw new McError(
        'E_NUMERIC',
        `${node.opType} '${node.name}' weight has a non-finite value (${w[i]}) at element ${i}; fix or retrain the model before factorising`,
        {
          context: { node: node.name, opType: node.opType },
        },
      );
    }
  }
}

/** A tensor of the layer's dtype from f64 data. @internal */
export function makeTensor(dtype: 'float32' | 'float64', dims: number[], data: Float64Array): Tensor {
  return dtype === 'float64' ? new Tensor('float64', dims, Float64Array.from(data)) : new Tensor('float32', dims, Float32Array.from(data));
}
