import { McError, type McWarning } from '@mc/ir';
import type { Feeds } from '@mc/verify';

/** Progress events of {@link factorize}: one per layer per phase. */
export interface FactorizeProgress {
  phase: 'decompose' | 'select' | 'rewrite';
  /** node name */
  layer: string;
  index: number;
  total: number;
}

/** Options shared by every rank policy. */
export interface FactorizeCommonOptions {
  /**
   * Replace a layer only when its factors hold fewer weights than it (default true, as keras_compressor). `false`
   * factorises at the requested rank even when that grows the layer (used to check the full-rank rewrite is exact).
   */
  onlyIfSmaller?: boolean;
  /**
   * Data-aware mode for dense layers (MatMul/Gemm): model inputs to run in onnxruntime-node. Ranks and factors then
   * minimise the error of the layer *outputs* on this data (whitened SVD) instead of the weights, and the error
   * policy bounds ‖Y − Ŷ‖_F/‖Y‖_F per layer. Conv layers keep the weight criterion.
   */
  calibration?: Iterable<Feeds> | AsyncIterable<Feeds>;
  /** Seed of randomized SVD sketches (default 0). */
  seed?: number;
  onProgress?: (event: FactorizeProgress) => void;
  signal?: AbortSignal;
}

/**
 * How ranks are chosen, one policy per call:
 * - `error`: keras_compressor's bound on mean|W − Ŵ| / mean|W| per layer (default 0.1); the cheapest ranks meeting it.
 * - `rank`: a fixed rank (Dense) / rank per channel mode (Conv, clamped to the channel counts).
 * - `ratio`: keep this fraction of the model's parameters (0 < R ≤ 1), allocating ranks across layers to minimise
 *   the summed per-layer error.
 * - `energy`: keep this fraction of the spectrum's energy Σσ² (0 < E ≤ 1), per layer and per mode.
 */
export type FactorizePolicy =
  | { error: number; rank?: never; ratio?: never; energy?: never }
  | { rank: number; error?: never; ratio?: never; energy?: never }
  | { ratio: number; error?: never; rank?: never; energy?: never }
  | { energy: number; error?: never; rank?: never; ratio?: never };
// Every member names all four keys (the others as `?: never`), so passing two policies is a type error and
// `Omit<FactorizeOptions, ...>` keeps the policy keys (Omit over a union keeps only keys common to all members).

/**
 * Options of {@link factorize}: exactly one rank policy plus common settings.
 * @example
 * const opts: FactorizeOptions = { error: 0.3, onProgress: (e) => log(e.layer) };
 */
export type FactorizeOptions = FactorizePolicy & FactorizeCommonOptions;

/** The validated policy. @internal */
export type Policy =
  | { kind: 'error'; value: number }
  | { kind: 'rank'; value: number }
  | { kind: 'ratio'; value: number }
  | { kind: 'energy'; value: number };

/** The rank policies, for CLIs. */
export const FACTORIZE_POLICIES = ['error', 'rank', 'ratio', 'energy'] as const;

/**
 * What {@link factorize} uses when unset: the `error` policy's bound when no policy is given, the seed, onlyIfSmaller.
 * @example
 * FACTORIZE_DEFAULTS.error; // 0.1
 */
export const FACTORIZE_DEFAULTS = { error: 0.1, seed: 0, onlyIfSmaller: true } as const satisfies Required<
  Pick<FactorizeCommonOptions, 'seed' | 'onlyIfSmaller'>
> & { error: number };

/** The one policy given (undefined fields ignored; none: the default error bound); two is `E_OPTION`. */
function chosen<V>(o: Partial<Record<Policy['kind'], V>>): { kind: Policy['kind']; value: NonNullable<V> | number } {
  const keys = FACTORIZE_POLICIES.filter((k) => o[k] !== undefined);
  if (keys.length > 1) {
    throw new McError(
      'E_OPTION',
      `factorize takes one rank policy, got ${keys.join(' and ')}; pass only one of error, rank, ratio, energy`,
    );
  }
  const kind = keys[0] ?? 'error';
  return { kind, value: o[kind] ?? FACTORIZE_DEFAULTS.error };
}

/**
 * The rank policy from fields that may be unset (a CLI's flags): exactly one set, or none for the default error bound.
 * Throws `E_OPTION` when more than one is set.
 * @example
 * factorize(model, { ...factorizePolicy({ error: undefined, rank: 16 }), seed: 1 });
 */
export function factorizePolicy(given: Partial<Record<Policy['kind'], number | undefined>>): FactorizePolicy {
  const { kind, value } = chosen(given);
  switch (kind) {
    case 'rank':
      return { rank: value };
    case 'ratio':
      return { ratio: value };
    case 'energy':
      return { energy: value };
    default:
      return { error: value };
  }
}

/** Checks options before any work starts; throws `E_OPTION` with the fix. @internal */
export function validateOptions(opts: Partial<FactorizeOptions> | undefined): Policy {
  const o = (opts ?? {}) as Record<string, unknown>;
  const { kind, value } = chosen(o);
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new McError('E_OPTION', `${kind} must be a finite number, got ${String(value)}; pass e.g. ${example(kind)}`);
  }
  switch (kind) {
    case 'error':
      if (value < 0) throw new McError('E_OPTION', `error must be ≥ 0 (mean|W−Ŵ|/mean|W| per layer), got ${value}; pass e.g. --error 0.1`);
      break;
    case 'rank':
      if (!Number.isInteger(value) || value < 1)
        throw new McError('E_OPTION', `rank must be an integer ≥ 1, got ${value}; pass e.g. --rank 16`);
      break;
    case 'ratio':
    case 'energy':
      if (!(value > 0 && value <= 1)) throw new McError('E_OPTION', `${kind} must be in (0, 1], got ${value}; pass e.g. ${example(kind)}`);
      break;
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new McError('E_OPTION', 'signal must be an AbortSignal; pass AbortSignal.timeout(ms) or an AbortController signal');
  }
  return { kind, value };
}

function example(kind: string): string {
  return kind === 'rank' ? '--rank 16' : kind === 'ratio' ? '--ratio 0.5' : kind === 'energy' ? '--energy 0.95' : '--error 0.1';
}

/** @internal */
export function warn(code: McWarning['code'], message: string, node?: string): McWarning {
  return node === undefined ? { code, message } : { code, message, node };
}
