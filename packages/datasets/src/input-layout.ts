import { McError } from '@mc/ir';
import type { BatchLayout, Dataset } from './dataset.js';

/** A model input dimension as the IR records it: a number, a symbol, or unknown. */
export type InputDim = number | string | null | undefined;

/**
 * Finds the batch layout that feeds a model input of shape `dims` (batch first) with `dataset`'s samples, or throws
 * `E_FORMAT` naming both shapes. `[N, C, H, W]` → NCHW, `[N, H, W, C]` → NHWC, `[N, C*H*W]` → flat, `[N, H, W]` (one
 * channel) → NHW.
 *
 * @example
 * ```ts
 * layoutForInput(mnist, [null, 784]); // 'flat'
 * layoutForInput(mnist, ['N', 1, 28, 28]); // 'NCHW'
 * ```
 */
export function layoutForInput(dataset: Dataset, dims: readonly InputDim[] | undefined, inputName = 'input'): BatchLayout {
  const s = dataset.inputShape;
  if (dims === undefined) return s.length === 1 ? 'flat' : 'NCHW';
  const rest = dims.slice(1);
  const fits = (want: readonly number[]): boolean =>
    rest.length === want.length && rest.every((d, i) => typeof d !== 'number' || d === want[i]);
  const size = s.reduce((a, b) => a * b, 1);
  if (s.length === 3) {
    const [c, h, w] = s as [number, number, number];
    const nchw = fits([c, h, w]);
    const nhwc = fits([h, w, c]);
    // With unknown dims both may fit: the channel count decides (C is the small one on the side).
    if (nchw && (!nhwc || typeof rest[0] === 'number')) return 'NCHW';
    if (nhwc) return 'NHWC';
    if (fits([size])) return 'flat';
    if (c === 1 && fits([h, w])) return 'NHW';
  } else if (fits([...s])) {
    return s.length === 1 ? 'flat' : 'NCHW';
  } else if (fits([size])) {
    return 'flat';
  }
  const shown = dims.map((d) => (typeof d === 'number' ? String(d) : '?')).join(', ');
  throw new McError(
    'E_FORMAT',
    `model input '${inputName}' expects [${shown}] but dataset '${dataset.name}' gives samples [${s.join(', ')}] (as [N, ${s.join(', ')}], NHWC or flat); pick the dataset the model was trained on`,
  );
}
