import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { McError } from '@mc/ir';

/** @internal Lists a data directory, or throws a coded error naming the path and the files expected there. */
export async function listDir(dir: string, what: string, expected: readonly string[]): Promise<string[]> {
  let st;
  try {
    st = await stat(dir);
  } catch (cause) {
    throw new McError(
      'E_IO',
      `${what} directory '${dir}' does not exist; pass --data-dir pointing at a folder holding ${expected.join(', ')}`,
      { context: { file: dir }, cause },
    );
  }
  if (!st.isDirectory()) {
    throw new McError('E_IO', `${what} path '${dir}' is not a directory; pass the folder holding ${expected.join(', ')}`, {
      context: { file: dir },
    });
  }
  return (await readdir(dir)).sort();
}

/** @internal Picks the first of `candidates` present in `names`, or throws naming the directory and the expected names. */
export function pick(dir: string, names: readonly string[], candidates: readonly string[], what: string): string {
  for (const c of candidates) if (names.includes(c)) return join(dir, c);
  throw new McError(
    'E_IO',
    `${what} not found in '${dir}': expected one of ${candidates.join(', ')}; found ${names.length ? names.slice(0, 8).join(', ') : 'no files'}`,
    { context: { file: dir } },
  );
}

/** @internal Reads a whole file with a coded error on failure. */
export async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (cause) {
    throw new McError('E_IO', `cannot read '${file}': ${(cause as Error).message}`, { context: { file }, cause });
  }
}
