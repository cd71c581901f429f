import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McError } from '@mc/ir';
import { describe, expect, it } from 'vitest';
import { loadNamedFeeds, perplexity, readNpy } from '../src/index.js';
import { npyBytes } from '../../../test-support/npy.js';

describe('token data for language models', () => {
  it('readNpy copies the data out of a pooled Node Buffer (int64 ids come back exact)', () => {
    const ids = new BigInt64Array([10n, 32n, 255n, 0n]);
    // Buffer.from(array) of a small file lands in the shared pool at a non-zero offset.
    const pooled = Buffer.concat([Buffer.from('x'), Buffer.from(npyBytes('<i8', [2, 2], ids))]).subarray(1);
    expect(pooled.byteOffset).toBeGreaterThan(0);
    expect([...(readNpy(pooled).data as BigInt64Array)]).toEqual([10n, 32n, 255n, 0n]);
  });

  it('loadNamedFeeds batches one .npy per model input and names a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mc-tokens-'));
    await writeFile(
      join(dir, 'input_ids.npy'),
      npyBytes(
        '<i8',
        [5, 3],
        new BigInt64Array(15).map((_, i) => BigInt(i)),
      ),
    );
    const b = await loadNamedFeeds(dir, ['input_ids'], { batchSize: 2 });
    expect(b.map((f) => f.input_ids!.dims)).toEqual([
      [2, 3],
      [2, 3],
      [1, 3],
    ]);
    expect([...(b[2]!.input_ids!.data as BigInt64Array)]).toEqual([12n, 13n, 14n]);
    const e = await loadNamedFeeds(dir, ['input_ids', 'attention_mask']).catch((x: unknown) => x);
    expect(McError.is(e) && e.code).toBe('E_IO');
    expect(String((e as Error).message)).toContain('attention_mask.npy');
  });

  it('perplexity of a model that knows the next token is 1; of a uniform one, the vocabulary size', async () => {
    const v = 7;
    const windows = new BigInt64Array([1n, 2n, 3n, 4n, 2n, 3n, 4n, 5n]);
    const perfect = await perplexity(
      async (ids, b, t) => {
        const out = new Float32Array(b * t * v).fill(-30);
        for (let i = 0; i < b * t; i++) out[i * v + Number(ids[i]!) + 1] = 30;
        return out;
      },
      windows,
      2,
      4,
    );
    expect(perfect.tokens).toBe(6);
    expect(perfect.perplexity).toBeCloseTo(1, 6);
    const uniform = await perplexity(async (_ids, b, t) => new Float32Array(b * t * v), windows, 2, 4, { batchSize: 1 });
    expect(uniform.perplexity).toBeCloseTo(v, 6);
  });
});
