import type { Node, Tensor, Value, WeightRef } from '@mc/ir';
import type { GroupMember } from '../report.js';

/**
 * How the channel axis of one tensor maps to prunable channels. Position i along `axis` (covering `block` consecutive
 * elements after a Flatten) holds element `entries[i]`: a channel of some root layer, or -1 for a channel no prunable
 * layer defines (a graph input's, say), which can never be removed.
 * @internal
 */
export interface ChanMap {
  entries: Int32Array;
  axis: number;
  rank: number;
  block: number;
}

/** A layer whose output channels are prunable elements. @internal */
export interface Root {
  index: number;
  node: Node;
  weight: WeightRef & { tensor: Tensor };
  count: number;
  offset: number;
}

/** A deferred rewrite, run once the removed channels are known. @internal */
export type Edit = (removed: (element: number) => boolean) => void;

/**
 * The channel dependency state (Torch-Pruning's dependency graph, on ONNX values): union-find over channel elements
 * (channels that must go together) and over roots (groups for the report), fixed flags with reasons, members and
 * rewrites.
 * @internal
 */
export class ChannelState {
  readonly roots: Root[] = [];
  readonly maps = new Map<Value, ChanMap>();
  readonly edits: Edit[] = [];
  /** Element sets of which at least one must be kept (each root, each Split output). */
  readonly constraints: number[][] = [];
  /** |γ| of a BatchNormalization reading the element, NaN when none. */
  readonly bnScore: number[] = [];
  /** Roots whose channels a head split groups into heads: root index → head size. */
  readonly headSize = new Map<number, number>();
  readonly elementRoot: number[] = [];
  readonly #parent: number[] = [];
  readonly #fixed: boolean[] = [];
  readonly #rootParent: number[] = [];
  readonly reasons: string[][] = [];
  readonly members: GroupMember[][] = [];

  addRoot(node: Node, weight: WeightRef & { tensor: Tensor }, count: number): Root {
    const r: Root = { index: this.roots.length, node, weight, count, offset: this.#parent.length };
    this.roots.push(r);
    this.#rootParent.push(r.index);
    this.reasons.push([]);
    this.members.push([{ node: node.name, opType: node.opType, role: 'out' }]);
    const els: number[] = [];
    for (let c = 0; c < count; c++) {
      const e = this.#parent.length;
      this.#parent.push(e);
      this.#fixed.push(false);
      this.bnScore.push(NaN);
      this.elementRoot.push(r.index);
      els.push(e);
    }
    this.constraints.push(els);
    return r;
  }

  find(e: number): number {
    const p = this.#parent;
    while (p[e] !== e) {
      p[e] = p[p[e]!]!;
      e = p[e]!;
    }
    return e;
  }

  findRoot(r: number): number {
    const p = this.#rootParent;
    while (p[r] !== r) {
      p[r] = p[p[r]!]!;
      r = p[r]!;
    }
    return r;
  }

  isFixed(e: number): boolean {
    return this.#fixed[this.find(e)]!;
  }

  get elementCount(): number {
    return this.#parent.length;
  }

  /** Couples two channels: they are removed together or not at all. -1 (an untraced channel) fixes the other. */
  union(a: number, b: number, reason: string): void {
    if (a < 0 && b < 0) return;
    if (a < 0 || b < 0) {
      this.#fixElement(a < 0 ? b : a, reason);
      return;
    }
    const ra = this.find(a);
    const rb = this.find(b);
    const ga = this.findRoot(this.elementRoot[a]!);
    const gb = this.findRoot(this.elementRoot[b]!);
    if (ga !== gb) this.#rootParent[gb] = ga;
    if (ra === rb) return;
    this.#parent[rb] = ra;
    this.#fixed[ra] = this.#fixed[ra]! || this.#fixed[rb]!;
  }

  /** Fixes every channel of a map (they cannot be removed) and records why on their groups. */
  fix(map: ChanMap, reason: string): void {
    const seen = new Set<number>();
    for (const e of map.entries) {
      if (e < 0) continue;
      this.#fixed[this.find(e)] = true;
      const r = this.elementRoot[e]!;
      if (!seen.has(r)) {
        seen.add(r);
        this.#reason(r, reason);
      }
    }
  }

  #fixElement(e: number, reason: string): void {
    this.#fixed[this.find(e)] = true;
    this.#reason(this.elementRoot[e]!, reason);
  }

  #reason(r: number, reason: string): void {
    const list = this.reasons[r]!;
    if (!list.includes(reason)) list.push(reason);
  }

  /** Records that `node` takes part in the groups of the channels in `map`. */
  member(map: ChanMap, m: GroupMember): void {
    const seen = new Set<number>();
    for (const e of map.entries) {
      if (e < 0) continue;
      const r = this.elementRoot[e]!;
      if (seen.has(r)) continue;
      seen.add(r);
      const list = this.members[r]!;
      if (!list.some((x) => x.node === m.node && x.role === m.role)) list.push(m);
    }
  }
}

/** Kept positions of a map given the removed elements. @internal */
export function keptPositions(map: ChanMap, removed: (e: number) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < map.entries.length; i++) {
    const e = map.entries[i]!;
    if (e < 0 || !removed(e)) out.push(i);
  }
  return out;
}
