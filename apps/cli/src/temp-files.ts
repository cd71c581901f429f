import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/** Outputs being written now: their temp files (`<out>.tmp-<pid>-*`, `<out>.data.tmp-<pid>-*`) are ours to remove. */
const writing = new Set<string>();

/** Registers an output path while it is written; returns the function that unregisters it. */
export function guardOutput(file: string): () => void {
  const abs = path.resolve(file);
  writing.add(abs);
  return () => void writing.delete(abs);
}

/**
 * Removes the temp files this process left beside the outputs it is writing (the writers name them
 * `<file>.tmp-<pid>-<random>`, `<file>.data.tmp-<pid>-<random>` for external data, `.<name>.<pid>.<random>.tmp` for
 * Keras files). Synchronous, so a signal
 * handler can call it. Returns the paths removed.
 */
export function removeTempFiles(pid = process.pid): string[] {
  const removed: string[] = [];
  for (const out of writing) {
    const dir = path.dirname(out);
    const base = path.basename(out);
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      // io-onnx: <file>.tmp-<pid>-<rand> (and <file>.data.tmp-…); io-keras: .<file or shard>.<pid>.<rand>.tmp
      if ((n.startsWith(base) && n.includes(`.tmp-${pid}-`)) || (n.startsWith('.') && n.endsWith('.tmp') && n.includes(`.${pid}.`))) {
        rmSync(path.join(dir, n), { force: true });
        removed.push(path.join(dir, n));
      }
    }
  }
  return removed;
}

/**
 * Installs SIGINT/SIGTERM handlers that remove the temp files of outputs being written and exit 130 / 143 (128 +
 * signal number, as shells report). A kill -9 cannot be caught: it can leave a `<out>.tmp-<pid>-*` file.
 */
export function installSignalCleanup(err: (text: string) => void): void {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(sig, () => {
      const removed = removeTempFiles();
      err(`mc: interrupted by ${sig}${removed.length > 0 ? `; removed ${removed.length} unfinished temp file(s)` : ''}`);
      process.exit(code);
    });
  }
}
