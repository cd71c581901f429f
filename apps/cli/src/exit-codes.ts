// The error class alone: the @mc/ir index (graphs, ops, stats) loads with the command that needs it.
import { McError } from '@mc/ir/errors';

/** Process exit codes of `mc`. */
export const EXIT = { ok: 0, usage: 2, input: 3, unsupported: 4, verify: 5, internal: 70 } as const;

/** A usage mistake found by the CLI itself (unknown flag, missing argument). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The one mapping from an error to an exit code: usage 2, input/format 3, unsupported 4, verification 5, internal 70.
 */
export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (!McError.is(e)) return EXIT.internal;
  switch (e.code) {
    case 'E_OPTION':
      return EXIT.usage;
    case 'E_IO':
    case 'E_FORMAT':
    case 'E_TRUNCATED':
    case 'E_NUMERIC':
      return EXIT.input;
    case 'E_UNSUPPORTED':
      return EXIT.unsupported;
    case 'E_VERIFY':
      return EXIT.verify;
    default:
      return EXIT.internal;
  }
}
