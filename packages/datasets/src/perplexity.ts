import { McError } from '@mc/ir';

/** What {@link perplexity} returns. */
export interface PerplexityResult {
  /** exp(mean negative log-likelihood per predicted token). */
  perplexity: number;
  /** Mean negative log-likelihood (nats per token). */
  nll: number;
  /** Tokens predicted. */
  tokens: number;
}

/**
 * Perplexity of a causal language model on windows of token ids `[N, T+1]` (int64, row-major): the model sees
 * positions 0..T-1 of each window and is scored on predicting positions 1..T (`run` returns logits `[B, T, V]` for a
 * `[B, T]` batch), with a numerically stable log-softmax in float64.
 *
 * @example
 * ```ts
 * const r = await perplexity(async (ids, b, t) => (await session.run({ input_ids: new Tensor('int64', [b, t], ids) })).logits.data as Float32Array, windows, n, t + 1);
 * ```
 */
export async function perplexity(
  run: (ids: BigInt64Array, batch: number, length: number) => Promise<Float32Array>,
  windows: BigInt64Array,
  count: number,
  width: number,
  opts: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<PerplexityResult> {
  const t = width - 1;
  if (t < 1 || windows.length < count * width)
    throw new McError(
      'E_OPTION',
      `perplexity needs [N, T+1] token windows with T >= 1; got ${count} x ${width} over ${windows.length} ids`,
    );
  const bs = opts.batchSize ?? 16;
  let nll = 0;
  let tokens = 0;
  for (let s = 0; s < count; s += bs) {
    opts.signal?.throwIfAborted();
    const b = Math.min(bs, count - s);
    const ids = new BigInt64Array(b * t);
    for (let r = 0; r < b; r++) ids.set(windows.subarray((s + r) * width, (s + r) * width + t), r * t);
    const logits = await run(ids, b, t);
    const v = logits.length / (b * t);
    if (!Number.isInteger(v) || v < 2)
      throw new McError('E_FORMAT', `the model returned ${logits.length} logits for ${b} x ${t} tokens; expected [B, T, vocabulary]`);
    for (let r = 0; r < b; r++) {
      for (let p = 0; p < t; p++) {
        const target = Number(windows[(s + r) * width + p + 1]!);
        if (target < 0 || target >= v) throw new McError('E_FORMAT', `token id ${target} is outside the model's vocabulary of ${v}`);
        const o = (r * t + p) * v;
        let max = -Infinity;
        for (let i = 0; i < v; i++) max = Math.max(max, logits[o + i]!);
        let sum = 0;
        for (let i = 0; i < v; i++) sum += Math.exp(logits[o + i]! - max);
        nll += Math.log(sum) + max - logits[o + target]!;
        tokens++;
      }
    }
  }
  const mean = nll / tokens;
  if (!Number.isFinite(mean)) throw new McError('E_NUMERIC', 'the model produced non-finite logits; perplexity is undefined');
  return { perplexity: Math.exp(mean), nll: mean, tokens };
}
