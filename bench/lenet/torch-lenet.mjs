// LeNet-300-100 trained and exported by PyTorch (train_lenet_torch.py, Debian python3-torch), cached outside the
// repository by the hash of the script and its arguments: $MC_CACHE/lenet-torch/<hash>/ (default ~/.cache/mc).
// Shared by the Deep Compression bench and the CLI test, so both measure the same third-party model.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PY = '/usr/bin/python3';
const script = fileURLToPath(new URL('./train_lenet_torch.py', import.meta.url));

/** Epochs of the fixture: about 3 minutes on one busy core, 97.5 % top-1. */
export const TORCH_LENET_EPOCHS = 4;

/**
 * Why the torch LeNet cannot be made here (no Debian python3-torch / onnx, no MNIST), or undefined when it can.
 * @param {string} mnistDir folder with the MNIST IDX .gz files
 * @returns {string | undefined}
 */
export function torchLenetMissing(mnistDir) {
  if (!existsSync(path.join(mnistDir, 'train-images-idx3-ubyte.gz'))) return `${mnistDir} has no MNIST IDX files`;
  if (!existsSync(PY)) return `${PY} not found`;
  if (spawnSync(PY, ['-c', 'import torch, onnx'], { stdio: 'ignore' }).status !== 0) return 'Debian python3-torch and python3-onnx are not installed (apt-get install python3-torch python3-onnx)';
  return undefined;
}

/**
 * The cached model (trained on first use, which takes minutes): its file and torch's own figures.
 * @param {string} mnistDir folder with the MNIST IDX .gz files
 * @param {{ epochs?: number, seed?: number }} [opts]
 * @returns {{ file: string, dir: string, meta: { torch: string, epochs: number, seed: number, seconds: number, top1: number }, cached: boolean }}
 */
export function torchLenet(mnistDir, opts = {}) {
  const epochs = opts.epochs ?? TORCH_LENET_EPOCHS;
  const seed = opts.seed ?? 0;
  const hash = createHash('sha256').update(readFileSync(script)).update(`epochs=${epochs} seed=${seed}`).digest('hex').slice(0, 12);
  const dir = path.join(process.env.MC_CACHE ?? path.join(os.homedir(), '.cache/mc'), 'lenet-torch', hash);
  const file = path.join(dir, 'lenet-300-100.onnx');
  const metaFile = path.join(dir, 'meta.json');
  const cached = existsSync(file) && existsSync(metaFile);
  if (!cached) {
    mkdirSync(dir, { recursive: true });
    // One thread: torch's OpenMP pool spins badly on a shared 2-core machine (2 threads measured 5× slower than 1).
    execFileSync(PY, [script, '--mnist', mnistDir, '--out', dir, '--epochs', String(epochs), '--seed', String(seed)], { stdio: 'pipe', timeout: 900_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
  }
  return { file, dir, meta: JSON.parse(readFileSync(metaFile, 'utf8')), cached };
}
