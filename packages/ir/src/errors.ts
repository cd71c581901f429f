/** Error codes every mc package uses; callers switch on `code`, never on the class. */
export type McErrorCode = 'E_IO' | 'E_FORMAT' | 'E_TRUNCATED' | 'E_UNSUPPORTED' | 'E_OPTION' | 'E_NUMERIC' | 'E_VERIFY' | 'E_INVARIANT';

/** Where an error happened: the more of these are known, the better the message. */
export interface McErrorContext {
  file?: string;
  node?: string;
  opType?: string;
  layer?: string;
  step?: string;
}

const MARKER = Symbol.for('mc.error');

/**
 * The one error type of mc. Its message says what happened, where, and the fix.
 * `E_INVARIANT` means a bug in mc itself, not bad user input.
 *
 * @example
 * ```ts
 * throw new McError('E_OPTION', `--error must be a number >= 0, got ${e}; pass e.g. --error 0.1`);
 * ```
 */
export class McError extends Error {
  readonly code: McErrorCode;
  readonly context: McErrorContext;
  readonly [MARKER] = true;

  constructor(code: McErrorCode, message: string, options: { context?: McErrorContext; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'McError';
    this.code = code;
    this.context = options.context ?? {};
  }

  /**
   * True for any McError, also one thrown by another installed copy of `@mc/ir` (where `instanceof` fails).
   *
   * @example
   * ```ts
   * try { await loadOnnx(p); } catch (e) { if (McError.is(e) && e.code === 'E_TRUNCATED') retry(); }
   * ```
   */
  static is(e: unknown): e is McError {
    return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[MARKER] === true;
  }

  /**
   * Returns a copy of this error with more context merged in (the message gains the file when it lacks it).
   *
   * @example
   * ```ts
   * catch (e) { throw McError.is(e) ? e.withContext({ file }) : e; }
   * ```
   */
  withContext(extra: McErrorContext): McError {
    const context = { ...extra, ...this.context };
    let message = this.message;
    if (extra.file !== undefined && this.context.file === undefined && !message.includes(extra.file)) {
      message = `${message} (file ${extra.file})`;
    }
    const e = new McError(this.code, message, { context, cause: this.cause });
    if (this.stack !== undefined) e.stack = this.stack;
    return e;
  }
}

/** Warning codes: values in reports, never thrown. */
export type McWarningCode = 'W_PASSTHROUGH' | 'W_COMPAT' | 'W_NUMERIC' | 'W_CLAMP' | 'W_SKIP' | 'W_SHAPE' | 'W_PERF';

/**
 * A warning, carried in a report.
 *
 * @example
 * ```ts
 * const w: McWarning = { code: 'W_PASSTHROUGH', node: 'lstm_1', message: 'LSTM is not factorised; kept as is' };
 * ```
 */
export interface McWarning {
  code: McWarningCode;
  node?: string;
  message: string;
}
