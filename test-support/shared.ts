/**
 * Where tests find the real models and data: `../shared` beside the checkout, or the folder named by `MC_SHARED_DIR`
 * (set it to a missing folder to see what a fresh clone without the data skips, and why).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The shared-data root, with a trailing separator so `SHARED_DIR + 'models/x'` works. */
export const SHARED_DIR = `${path.resolve(process.env.MC_SHARED_DIR ?? path.join(REPO_ROOT, '../shared'))}${path.sep}`;

/** `rel` inside the shared-data root. */
export function sharedPath(rel: string): string {
  return path.join(SHARED_DIR, rel);
}

/**
 * Why the shared files `rels` cannot be used, or undefined when all exist: for `describe.skipIf(why !== undefined)`
 * with {@link skipNote} in the title, so the reporter can print the reason once per file.
 */
export function sharedAbsent(...rels: string[]): string | undefined {
  const missing = rels.find((r) => !existsSync(sharedPath(r)));
  if (missing === undefined) return undefined;
  const where = process.env.MC_SHARED_DIR === undefined ? '../shared' : '$MC_SHARED_DIR';
  return `${where}/${missing.replace(/\/$/, '')} is absent`;
}

/** ` (skipped: why)` for a test title, or '' when nothing is skipped. */
export function skipNote(why: string | undefined | false): string {
  return why ? ` (skipped: ${why})` : '';
}
