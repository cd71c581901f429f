import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { perplexity, readNpy } from '@mc/datasets';
import { McError, type Model, Tensor, toFloat32 } from '@mc/ir';
import { createSession } from '@mc/verify';
import { UsageError } from '../exit-codes.js';
import type { DataFlagValues } from '../data-flags.js';
import { defined } from '../flags.js';

/** What `mc eval --task lm` reports. */
export interface LmEvaluation {
  /** exp(mean negative log-likelihood per predicted token). */
  perplexity: number;
  /** Mean negative log-likelihood, nats per token. */
  nll: number;
  tokens: number;
  windows: number;
  /** The token file read. */
  data: string;
  seconds: number;
}

/** Model inputs besides the token ids that `--task lm` can fill: all-ones mask, 0..T-1 positions. */
const FILLED = new Set(['attention_mask', 'position_ids']);

/**
 * Perplexity of a causal language model (token ids [B, T] in, logits [B, T, V] out) on the token windows of
 * `--data-dir D/input_ids.npy` (int64 or int32 [N, T+1]), through onnxruntime-node.
 */
export async function languageModelPerplexity(
  model: Model,
  f: DataFlagValues & { 'batch-size'?: number | undefined },
): Promise<LmEvaluation> {
  const dir = f['data-dir'];
  if (dir === undefined) throw new UsageError('mc eval --task lm needs --data-dir D holding input_ids.npy (int64 [N, T+1] token windows)');
  if (f.dataset !== undefined && f.dataset !== 'npy')
    throw new UsageError(`mc eval --task lm reads token windows from --data-dir D/input_ids.npy; drop --dataset ${String(f.dataset)}`);
  const file = join(dir, 'input_ids.npy');
  if (!existsSync(file))
    throw new McError(
      'E_IO',
      `'${dir}' has no input_ids.npy; --task lm reads int64 [N, T+1] token windows from it (save them with numpy.save)`,
      { context: { file } },
    );
  const a = readNpy(await readFile(file), file);
  if (a.shape.length !== 2 || a.shape[1]! < 2 || (a.dtype !== 'int64' && a.dtype !== 'int32')) {
    throw new McError(
      'E_FORMAT',
      `${file} is ${a.dtype} [${a.shape.join(', ')}]; --task lm needs int64 (or int32) [N, T+1] token windows with T >= 1`,
      { context: { file } },
    );
  }
  const width = a.shape[1]!;
  const count = Math.min(a.shape[0]!, f.limit ?? Infinity);
  const ids = a.data instanceof BigInt64Array ? a.data : BigInt64Array.from(a.data, (v) => BigInt(v));
  const inputs = model.graph.inputs.filter((v) => !v.isInitializer());
  const tokens = inputs.find((v) => v.name === 'input_ids') ?? inputs.find((v) => !FILLED.has(v.name));
  const unknown = inputs.filter((v) => v !== tokens && !FILLED.has(v.name)).map((v) => v.name);
  if (tokens === undefined || unknown.length > 0) {
    throw new McError(
      'E_UNSUPPORTED',
      `--task lm feeds token ids (plus attention_mask and position_ids when the model has them); the model also needs ${unknown.join(', ') || 'a token input'}; evaluate it with its own script`,
    );
  }
  const session = await createSession(model);
  const out = session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  const t0 = performance.now();
  try {
    const r = await perplexity(
      async (batch, b, t) => {
        const feeds: Record<string, Tensor> = {
          [tokens.name]:
            tokens.dtype === 'int32' ? new Tensor('int32', [b, t], Int32Array.from(batch, Number)) : new Tensor('int64', [b, t], batch),
        };
        for (const v of inputs) {
          if (v.name === 'attention_mask') feeds[v.name] = new Tensor('int64', [b, t], new BigInt64Array(b * t).fill(1n));
          if (v.name === 'position_ids')
            feeds[v.name] = new Tensor(
              'int64',
              [b, t],
              BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i % t)),
            );
        }
        return toFloat32((await session.run(feeds))[out]!);
      },
      ids,
      count,
      width,
      defined({ batchSize: f['batch-size'] }),
    );
    return { ...r, windows: count, data: file, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await session.release();
  }
}
