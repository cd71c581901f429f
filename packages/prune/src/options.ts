import { type Feeds, McError, type Node } from '@mc/ir';

/** Progress events of {@link prune}. */
export interface PruneProgress {
  phase: 'analyse' | 'select' | 'rewrite' | 'reconstruct';
  index: number;
  total: number;
  layer?: string;
}

/**
 * How a pruned weight is written. `prune` itself keeps every pruned weight a plain dense float32 initializer with its
 * mask (so later techniques see it); the form is applied when the model is written (`storePruned`, which `mc prune`
 * and `mc run` apply just before saving):
 * - `'sparse'`: an ONNX `sparse_initializer` (values + int64 linear indices, the only index type onnx.checker accepts;
 *   see {@link SparseIndices});
 * - `'packed'`: a dense-at-load form in standard ops: nonzero values (float32) plus uint8 gaps between their
 *   positions, expanded at session creation by Cast → CumSum → ScatterElements (onnxruntime folds the chain, so
 *   inference runs at dense speed); the smallest runnable file;
 * - `'dense'`: zeros stay in the dense tensor (the raw file does not shrink; gzip does);
 * - `'auto'` (default): per tensor, the smallest of the three.
 */
export type SparseStorage = 'sparse' | 'packed' | 'dense' | 'auto';

/**
 * Index type of `'sparse'` storage:
 * - `'int64'` (default): what the ONNX spec's checker requires (`onnx.checker`: "indices must have INT64 type");
 * - `'smallest'`: int16 for tensors of ≤ 32768 elements, else int32. onnxruntime-node and -web 1.30 load these and the
 *   file is smaller, but the file is not valid ONNX by the checker; ask for it explicitly when only onnxruntime reads it.
 */
export type SparseIndices = 'int64' | 'smallest';

/** Settings shared by every mode. */
export interface PruneCommonOptions {
  /** Node names never pruned. */
  exclude?: readonly string[];
  onProgress?: (event: PruneProgress) => void;
  signal?: AbortSignal;
}

/**
 * Unstructured magnitude pruning: the smallest |w| of each weight (Conv, ConvTranspose, Gemm, MatMul with a constant
 * weight) become exactly zero. `sparsity` is the fraction zeroed, per layer (`scope: 'layer'`) or over all layers
 * together (`'global'`). `nm: [n, m]` keeps the n largest of every m consecutive weights along the input-channel
 * axis (2:4 is the Ampere pattern); then `sparsity` may be omitted (it is 1 − n/m).
 */
export interface MagnitudeOptions extends PruneCommonOptions {
  mode: 'magnitude';
  /** Fraction of weights set to zero, in [0, 1). */
  sparsity?: number;
  /** Default 'layer'. */
  scope?: 'layer' | 'global';
  nm?: readonly [number, number];
  /** Form the pruned weights are written in (applied at write time by `storePruned`). Default 'auto'. */
  storage?: SparseStorage;
  /** Index type of 'sparse' storage. Default 'int64' (valid by onnx.checker). */
  sparseIndices?: SparseIndices;
  /** Weights with fewer elements stay dense and unpruned (default 0: prune all). */
  minElements?: number;
  /**
   * With `storage: 'packed'` (or 'auto'): share the surviving values of each weight through a k-means codebook of
   * 2^bits values (Deep Compression's weight sharing; zeros stay exact), and the biases read only by pruned layers
   * through codebooks of their own; every such tensor goes into one stream of bits-wide value codes and 1–8-bit gap
   * codes decoded by standard ops at load. Lossy: the report gives each tensor's max |error|. Default: none (values
   * stay float32).
   */
  codebook?: number;
}

/** What an {@link Importance} sees of one layer that defines output channels. */
export interface ImportanceLayer {
  node: Node;
  /** The weight as float32, in its stored layout. */
  weight: Float32Array;
  dims: readonly number[];
  /** Axis of output channels in `weight`. */
  outAxis: number;
  /** |γ| of a BatchNormalization that directly follows the layer, one per output channel, when there is one. */
  bnScale?: Float32Array;
}

/**
 * A channel-importance strategy: one score per output channel of a layer (higher = keep). Scores are normalised per
 * layer (divided by their mean) before channels coupled across layers are summed, so scales need not match.
 *
 * @example
 * ```ts
 * const maxAbs: Importance = { name: 'max', scores: ({ weight, dims, outAxis }) => perChannel(weight, dims, outAxis, Math.max) };
 * ```
 */
export interface Importance {
  readonly name: string;
  scores(layer: ImportanceLayer): ArrayLike<number>;
}

/**
 * Structured channel pruning: removes `ratio` of the channels of every prunable dependency group (`scope: 'layer'`)
 * or of all groups together (`'global'`), ranked by `importance` ('l1'/'l2' filter norm, 'bn' |γ|, or your own).
 * Tensors really shrink; `foldBatchNorm` then folds BatchNormalization into the preceding Conv.
 */
export interface ChannelOptions extends PruneCommonOptions {
  mode: 'channels';
  /** Fraction of channels removed, in [0, 1). */
  ratio: number;
  /**
   * Fraction of attention heads removed from every group of heads (Q/K/V of a block behind a head split Reshape), in
   * [0, 1); default `ratio`. Given, head groups take it per group whatever `scope` is, and `ratio` applies to the rest
   * (MLP neurons, channels).
   */
  heads?: number;
  /** Default 'l1'. */
  importance?: 'l1' | 'l2' | 'bn' | Importance;
  /** Default 'layer' (each group loses `ratio` of its channels). */
  scope?: 'layer' | 'global';
  /** Fold BatchNormalization into the Conv/Gemm before it after pruning (default false). */
  foldBatchNorm?: boolean;
  /** Keep at least this many channels in every group (default 1). */
  minChannels?: number;
  /**
   * Model inputs (a few hundred to a few thousand samples): after the channels go, every layer that read them is
   * refitted by least squares to reproduce the unpruned model's outputs on these inputs (see `reconstruct`; before
   * `foldBatchNorm`). Runs the model in onnxruntime-node; the report's `reconstruct` gives the error per layer.
   */
  calibration?: Iterable<Feeds> | AsyncIterable<Feeds>;
}

/**
 * Options of {@link prune}: one mode per call.
 *
 * @example
 * ```ts
 * const a: PruneOptions = { mode: 'magnitude', sparsity: 0.9, scope: 'global', storage: 'packed' };
 * const b: PruneOptions = { mode: 'channels', ratio: 0.5, importance: 'bn' };
 * ```
 */
export type PruneOptions = MagnitudeOptions | ChannelOptions;

/**
 * What {@link prune} uses for an option left unset, for CLIs (`--help` shows these) and docs.
 * @example
 * PRUNE_DEFAULTS.storage; // 'auto'
 */
export const PRUNE_DEFAULTS = {
  scope: 'layer',
  storage: 'auto',
  sparseIndices: 'int64',
  minElements: 0,
  importance: 'l1',
  foldBatchNorm: false,
  minChannels: 1,
} as const satisfies Required<
  Pick<MagnitudeOptions, 'scope' | 'storage' | 'sparseIndices' | 'minElements'> &
    Pick<ChannelOptions, 'importance' | 'foldBatchNorm' | 'minChannels'>
>;

function fail(msg: string): never {
  throw new McError('E_OPTION', msg);
}

function fraction(name: string, v: unknown, example: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v >= 1) {
    fail(`prune: ${name} must be a number in [0, 1), got ${String(v)}; pass e.g. ${example}`);
  }
  return v;
}

/** The validated magnitude settings. @internal */
export interface MagnitudePlan {
  sparsity: number;
  scope: 'layer' | 'global';
  nm: [number, number] | undefined;
  storage: SparseStorage;
  minElements: number;
  codebook: number | undefined;
  sparseIndices: SparseIndices;
}

/** Checks options before any work; throws `E_OPTION` with the fix. @internal */
export function validateOptions(opts: PruneOptions): MagnitudePlan | ChannelOptions {
  if (opts === null || typeof opts !== 'object') fail(`prune: options must be an object such as { mode: 'magnitude', sparsity: 0.9 }`);
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) fail('prune: signal must be an AbortSignal');
  if (opts.exclude !== undefined && !Array.isArray(opts.exclude)) fail('prune: exclude must be an array of node names');
  const scope = opts.scope ?? PRUNE_DEFAULTS.scope;
  if (scope !== 'layer' && scope !== 'global') fail(`prune: scope must be 'layer' or 'global', got ${String(scope)}`);
  if (opts.mode === 'magnitude') {
    if ((opts as { calibration?: unknown }).calibration !== undefined)
      fail("prune: calibration (the least-squares refit, reconstruct) needs mode 'channels'; magnitude pruning keeps every layer's shape");
    let nm: [number, number] | undefined;
    if (opts.nm !== undefined) {
      const [n, m] = opts.nm;
      if (!Number.isInteger(n) || !Number.isInteger(m) || n! < 1 || m! < 2 || n! >= m!)
        fail(`prune: nm must be [n, m] integers with 1 ≤ n < m, got [${String(opts.nm)}]; pass e.g. nm: [2, 4]`);
      nm = [n!, m!];
    }
    const implied = nm === undefined ? undefined : 1 - nm[0] / nm[1];
    if (opts.sparsity === undefined && implied === undefined)
      fail(`prune: magnitude mode needs sparsity (in [0, 1)) or nm; pass e.g. sparsity: 0.9`);
    const sparsity = opts.sparsity === undefined ? implied! : fraction('sparsity', opts.sparsity, 'sparsity: 0.9');
    if (implied !== undefined && Math.abs(sparsity - implied) > 1e-9)
      fail(`prune: nm [${nm!.join(':')}] gives sparsity ${implied}, but sparsity ${sparsity} was asked; omit sparsity with nm`);
    const storage = opts.storage ?? PRUNE_DEFAULTS.storage;
    if (!['sparse', 'packed', 'dense', 'auto'].includes(storage))
      fail(`prune: storage must be 'sparse', 'packed', 'dense' or 'auto', got ${String(storage)}`);
    const minElements = opts.minElements ?? PRUNE_DEFAULTS.minElements;
    if (!Number.isInteger(minElements) || minElements < 0) fail(`prune: minElements must be an integer ≥ 0, got ${minElements}`);
    const codebook = opts.codebook;
    if (codebook !== undefined && (!Number.isInteger(codebook) || codebook < 1 || codebook > 8))
      fail(`prune: codebook must be an integer number of bits in 1..8, got ${String(codebook)}; pass e.g. codebook: 4`);
    if (codebook !== undefined && storage !== 'packed' && storage !== 'auto')
      fail(`prune: codebook needs storage 'packed' (or 'auto'), got '${storage}'`);
    const sparseIndices = opts.sparseIndices ?? PRUNE_DEFAULTS.sparseIndices;
    if (sparseIndices !== 'int64' && sparseIndices !== 'smallest')
      fail(`prune: sparseIndices must be 'int64' or 'smallest', got ${String(sparseIndices)}`);
    return { sparsity, scope, nm, storage, minElements, codebook, sparseIndices };
  }
  if (opts.mode === 'channels') {
    fraction('ratio', opts.ratio, 'ratio: 0.5');
    if (opts.heads !== undefined) fraction('heads', opts.heads, 'heads: 0.25');
    const imp = opts.importance ?? PRUNE_DEFAULTS.importance;
    if (typeof imp === 'string' ? !['l1', 'l2', 'bn'].includes(imp) : typeof imp?.scores !== 'function') {
      fail(`prune: importance must be 'l1', 'l2', 'bn' or an object with scores(layer), got ${String(imp)}`);
    }
    const minChannels = opts.minChannels ?? PRUNE_DEFAULTS.minChannels;
    if (!Number.isInteger(minChannels) || minChannels < 1) fail(`prune: minChannels must be an integer ≥ 1, got ${minChannels}`);
    return { ...opts, scope, importance: imp, minChannels };
  }
  return fail(`prune: mode must be 'magnitude' or 'channels', got ${String((opts as { mode?: unknown }).mode)}`);
}
