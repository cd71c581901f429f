import type { ReconstructReport } from './reconstruct.js';
import type { McWarning, ModelStats } from '@mc/ir';

/** One weight pruned by magnitude. */
export interface WeightReport {
  node: string;
  opType: string;
  /** Name of the weight initializer. */
  weight: string;
  dims: number[];
  elements: number;
  /** Exact zeros after pruning (counting weights that were zero already). */
  zeros: number;
  sparsity: number;
  /** Magnitude below which weights were removed (the kept weights' smallest |w| may equal it on ties). */
  threshold: number;
  storage: 'sparse' | 'packed' | 'dense';
  /** Index element type for 'sparse' storage. */
  indexType?: 'int16' | 'int32' | 'int64';
  bytesBefore: number;
  bytesAfter: number;
  /**
   * With a codebook: its size (shared values of the nonzeros; zeros stay exact), the largest |w − shared value|, the
   * width of the gap codes, whether the weight is stored with its first two axes swapped, and the layer's bias when
   * it is coded in the same stream (its own codebook).
   */
  codebook?: {
    bits: number;
    entries: number;
    maxAbsError: number;
    gapBits?: number;
    swapped?: boolean;
    bias?: { name: string; entries: number; maxAbsError: number; bytesBefore: number; bytesAfter: number };
  };
}

/** One node of a channel dependency group and what pruning does to it. */
export interface GroupMember {
  node: string;
  opType: string;
  /** 'out': defines the group's channels; 'in': reads them (input channels shrink); 'channel': per-channel op
   * (BatchNormalization, depthwise Conv, PRelu, a constant operand); 'couple': Add/Concat/Split/Flatten/Reshape. */
  role: 'out' | 'in' | 'channel' | 'couple';
}

/** One dependency group: layers whose channels must be removed together. */
export interface GroupReport {
  id: number;
  /** Layers that define the group's channels (their output channels are removed). */
  roots: string[];
  members: GroupMember[];
  /** Channel classes in the group (channels that are removed together count once; an attention head counts once). */
  channels: number;
  /** Set when the classes are attention heads (a head split Reshape groups the channels): channels per head. */
  headSize?: number;
  removed: number;
  /** Channel classes that cannot be removed (see `reasons`). */
  fixed: number;
  /** Why channels (or the whole group) were left alone. */
  reasons: string[];
  /** Per root: output channel indices removed. */
  removedChannels: Record<string, number[]>;
}

/** A node left as it was, with the reason. */
export interface PassedThrough {
  node: string;
  opType: string;
  reason: string;
}

/**
 * Report of {@link prune}: data, never printed by the library.
 *
 * @example
 * ```ts
 * const { report } = await prune(model, { mode: 'magnitude', sparsity: 0.9 });
 * report.after.paramBytes / report.before.paramBytes;
 * ```
 */
export interface PruneReport {
  technique: 'prune';
  mode: 'magnitude' | 'channels';
  before: ModelStats;
  after: ModelStats;
  /** Magnitude mode: every weight considered. */
  weights: WeightReport[];
  /** Channel mode: every dependency group. */
  groups: GroupReport[];
  /** Overall fraction of weights (magnitude) or channel classes (channels) removed. */
  achieved: number;
  /** Set when nothing could be pruned, with why. */
  nothingToPrune?: string;
  passedThrough: PassedThrough[];
  warnings: McWarning[];
  /** Channel mode with `calibration`: the least-squares refit of the layers that read removed channels. */
  reconstruct?: ReconstructReport;
}
