import { type Model, type Node, type Tensor, type Value, toFloat32 } from '@mc/ir';
import { valueDTypes } from '../graph-utils.js';
import { FLOAT16_MAX, convertToFloat16, fromFloat16Bits } from '../kernels/float16.js';
import type { Feeds, Fp16Options } from '../options.js';
import type { ReportBuilder } from '../report.js';
import { calibrate } from './int8-static.js';

/**
 * Largest share of a tensor's L2 norm that float16 may lose before the tensor is kept in float32. Round-to-nearest
 * float16 of normal values loses at most 2^-11 ≈ 4.9e-4 of every element, so only values in the subnormal range
 * (|x| < 2^-14 ≈ 6.1e-5, where the step is a fixed 6e-8) or flushed to zero can push a tensor past 1e-3.
 */
const MAX_L2_LOSS = 1e-3;

/**
 * The float32 tensor a value holds when it is a constant: an initializer, or the output of a `Constant` node (what
 * Paddle2ONNX and some other exporters write instead of initializers).
 * @internal
 */
export function constTensorOf(v: Value): Tensor | undefined {
  if (v.isInitializer()) return v.constValue;
  const p = v.producer();
  if (p === undefined || p.opType !== 'Constant' || p.domain !== '') return undefined;
  const a = p.attr('value');
  return a?.type === 'TENSOR' ? a.value : undefined;
}

/** True for a float32 `Constant` node (fp16 gives its readers a float16 copy and leaves it alone). @internal */
export function isFloatConstant(n: Node): boolean {
  if (n.opType !== 'Constant' || n.domain !== '') return false;
  const a = n.attr('value');
  return a?.type === 'TENSOR' && a.value.dtype === 'float32';
}

/**
 * Why float16 cannot hold a float32 tensor, or undefined when it can: values beyond ±65504 (they would saturate or
 * become Inf), or small values whose underflow loses more than {@link MAX_L2_LOSS} of the tensor's norm.
 * @internal
 */
export function halfRangeIssue(t: Tensor): string | undefined {
  if (t.dtype !== 'float32') return undefined;
  const x = toFloat32(t);
  let big = 0;
  let maxAbs = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]!);
    if (a > FLOAT16_MAX && Number.isFinite(a)) big++;
    if (a > maxAbs && Number.isFinite(a)) maxAbs = a;
  }
  if (big > 0) return `${big} of its ${x.length} values exceed the float16 range ±65504 (max |x| = ${maxAbs.toExponential(3)})`;
  let small = false; // only values below float16's smallest normal (2^-14) lose more than 2^-11 of themselves
  for (let i = 0; i < x.length && !small; i++) small = x[i] !== 0 && Math.abs(x[i]!) < 2 ** -14;
  if (!small) return undefined;
  const r = convertToFloat16(x);
  let norm = 0;
  let loss = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) continue;
    norm += v * v;
    const d = fromFloat16Bits(r.bits[i]!) - v;
    loss += d * d;
  }
  if (norm > 0 && Math.sqrt(loss / norm) > MAX_L2_LOSS) {
    return `its small values underflow in float16 (${r.underflowed} become 0; ${(100 * Math.sqrt(loss / norm)).toFixed(2)} % of its L2 norm lost)`;
  }
  return undefined;
}

/**
 * Nodes fp16 keeps in float32 because float16 cannot hold their numbers, by position in `graph.nodes`, with the
 * reason: a constant input (weight, BatchNormalization statistics, Clip bound, ...) or a tensor attribute out of
 * float16's range, and, with calibration batches, every node that computes or reads an activation beyond ±65504.
 * @internal
 */
export async function overflowGuard(
  model: Model,
  opts: Fp16Options,
  batches: readonly Feeds[] | undefined,
  report: ReportBuilder,
): Promise<Map<number, string>> {
  const dtypes = valueDTypes(model);
  const isF32 = (v: Value) => (dtypes.get(v) ?? v.constValue?.dtype) === 'float32';
  const guard = new Map<Node, string>();
  const seen = new Map<Tensor, string | undefined>();
  const issueOf = (t: Tensor): string | undefined => {
    if (!seen.has(t)) seen.set(t, halfRangeIssue(t));
    return seen.get(t);
  };
  for (const n of model.graph.nodes) {
    if (isFloatConstant(n)) continue;
    for (const v of n.inputs) {
      const t = v === undefined ? undefined : constTensorOf(v);
      const why = t === undefined ? undefined : issueOf(t);
      if (why !== undefined) {
        guard.set(n, `weight '${v!.name}': ${why}`);
        break;
      }
    }
    if (guard.has(n)) continue;
    for (const [name, a] of n.attributes) {
      const why = a.type === 'TENSOR' ? issueOf(a.value) : undefined;
      if (why !== undefined) {
        guard.set(n, `attribute '${name}': ${why}`);
        break;
      }
    }
  }
  const pos = new Map(model.graph.nodes.map((n, i) => [n, i]));
  const byPos = () => new Map([...guard].map(([n, why]) => [pos.get(n)!, why]));
  if (batches === undefined) return byPos();
  const tensors: Value[] = [];
  for (const n of model.graph.nodes) if (!isFloatConstant(n)) for (const o of n.outputs) if (isF32(o)) tensors.push(o);
  const ranges = await calibrate(
    model,
    tensors,
    {
      mode: 'int8-static',
      calibration: batches,
      method: 'minmax',
      ...(opts.runner !== undefined && { runner: opts.runner }),
      ...(opts.signal !== undefined && { signal: opts.signal }),
      ...(opts.onProgress !== undefined && { onProgress: opts.onProgress }),
    },
    report,
  );
  for (const v of tensors) {
    const r = ranges.get(v.name);
    if (r === undefined) continue;
    const peak = Math.max(Math.abs(r[0]), Math.abs(r[1]));
    if (!(peak > FLOAT16_MAX)) continue;
    const why = `activation '${v.name}' reaches |x| = ${peak.toExponential(3)} on the calibration data, beyond the float16 range ±65504`;
    const p = v.producer();
    if (p !== undefined && !guard.has(p)) guard.set(p, why);
    for (const u of v.uses()) if (!guard.has(u.node)) guard.set(u.node, why);
  }
  return byPos();
}
