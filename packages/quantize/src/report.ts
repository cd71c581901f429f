import type { McWarning, ModelStats } from '@mc/ir';
import type { QuantizeMode } from './options.js';
import type { SlimStats } from './slim.js';

/** What was done to one node. */
export interface NodeReport {
  readonly node: string;
  readonly opType: string;
  /** e.g. 'int8 per-channel weight (axis 0)', 'MatMulNBits 4-bit block 32'. */
  readonly action: string;
  /** Bytes of the node's weight before and after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Largest weight reconstruction error, when a weight was quantized. */
  readonly maxAbsError?: number;
}

/** A node left as it was, and why. */
export interface PassedThrough {
  readonly node: string;
  readonly opType: string;
  readonly reason: string;
}

/** Calibration summary of int8-static. */
export interface CalibrationReport {
  readonly method: string;
  readonly batches: number;
  /** Activation name → [min, max] used for its scale. */
  readonly ranges: Record<string, readonly [number, number]>;
}

/**
 * The report of {@link quantize}: data, never printed by the library.
 */
export interface QuantizeReport {
  readonly technique: 'quantize';
  readonly mode: QuantizeMode;
  readonly before: ModelStats;
  readonly after: ModelStats;
  readonly nodes: NodeReport[];
  readonly passedThrough: PassedThrough[];
  readonly warnings: McWarning[];
  readonly calibration?: CalibrationReport;
  /** What the finishing slim pass removed (absent with `keepMetadata`). */
  readonly slim?: SlimStats;
}

/** Collects report entries while a mode runs. @internal */
export class ReportBuilder {
  readonly nodes: NodeReport[] = [];
  readonly passedThrough: PassedThrough[] = [];
  readonly warnings: McWarning[] = [];
  calibration: CalibrationReport | undefined;

  done(node: { name: string; opType: string }, action: string, bytesBefore: number, bytesAfter: number, maxAbsError?: number): void {
    this.nodes.push({
      node: node.name,
      opType: node.opType,
      action,
      bytesBefore,
      bytesAfter,
      ...(maxAbsError !== undefined && { maxAbsError }),
    });
  }

  pass(node: { name: string; opType: string }, reason: string): void {
    this.passedThrough.push({ node: node.name, opType: node.opType, reason });
  }

  warn(w: McWarning): void {
    this.warnings.push(w);
  }
}
