import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { McError } from './errors.js';

/** What a model names a file for, used in the message when the name is refused. */
export interface NamedPathContext {
  /** The model file that names the path (for the message and `McError.context.file`). */
  file: string;
  /** The field that holds the name, as a JSON-like path: `weightsManifest[0].paths[1]`, `initializer 'fc.weight' external_data location`. */
  field: string;
}

function inside(folder: string, target: string): boolean {
  const rel = relative(folder, target);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Resolves a file name that a model file holds (ONNX external data `location`, a TF.js shard path) against the
 * model's folder, and refuses it unless it stays inside that folder **after symlinks are followed** and names a
 * regular file. Nothing is opened: only `realpath` and `stat` look at the path, so a refused name never makes mc
 * read the file it points to (a device, a FIFO, `/etc/passwd` through a symlink).
 *
 * A name that does not exist yet resolves to its lexical path (the caller reports it missing); the model's own folder
 * is taken with its symlinks resolved, so a model reached through a linked folder still finds its files.
 *
 * @example
 * ```ts
 * const shard = resolveNamedPath(dirname(jsonPath), 'group1-shard1of1.bin', { file: jsonPath, field: 'weightsManifest[0].paths[0]' });
 * ```
 */
export function resolveNamedPath(folder: string, name: unknown, ctx: NamedPathContext): string {
  const refuse = (why: string): McError =>
    new McError(
      'E_FORMAT',
      `${ctx.field} in '${ctx.file}' ${why}; a model may only name files inside its own folder: move the file next to the model and name it relatively`,
      {
        context: { file: ctx.file },
      },
    );
  if (typeof name !== 'string' || name === '') throw refuse(`is ${JSON.stringify(name) ?? String(name)}, not a file name`);
  if (name.includes('\0')) throw refuse('contains a NUL byte');
  if (isAbsolute(name)) throw refuse(`is the absolute path '${name}'`);
  let base: string;
  try {
    base = realpathSync(folder);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      throw new McError('E_IO', `cannot resolve the folder of '${ctx.file}' (${code ?? 'error'}); check the path`, {
        context: { file: ctx.file },
        cause: e,
      });
    }
    // No such folder: nothing can be opened there; the caller reports the file missing.
    const lexical = resolve(folder, name);
    if (!inside(resolve(folder), lexical)) throw refuse(`'${name}' points outside the model's folder`);
    return lexical;
  }
  const lexical = resolve(base, name);
  if (!inside(base, lexical)) throw refuse(`'${name}' points outside the model's folder`);
  let real: string;
  try {
    real = realpathSync(lexical);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return lexical;
    if (code === 'ELOOP') throw refuse(`'${name}' is a symlink loop`);
    throw new McError('E_IO', `cannot resolve ${ctx.field} '${name}' named by '${ctx.file}' (${code ?? 'error'})`, {
      context: { file: ctx.file },
      cause: e,
    });
  }
  if (!inside(base, real)) throw refuse(`'${name}' is a symlink that leads outside the model's folder (to '${real}')`);
  if (!statSync(real).isFile()) throw refuse(`'${name}' is not a regular file`);
  return real;
}
