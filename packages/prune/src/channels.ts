import { McError, type McWarning, type Model, toFloat32 } from '@mc/ir';
import { inferAllShapes } from './shapes.js';
import { analyse } from './groups/analyse.js';
import { retie } from './groups/util.js';
import type { ChannelState } from './groups/state.js';
import { importanceOf } from './importance.js';
import { type ChannelOptions, PRUNE_DEFAULTS } from './options.js';
import type { GroupReport } from './report.js';

interface ChannelClass {
  rep: number;
  elements: number[];
  group: number;
  score: number;
  fixed: boolean;
}

/** Result of the channel pass. @internal */
export interface ChannelOutcome {
  groups: GroupReport[];
  achieved: number;
  nothingToPrune?: string;
}

/** Per-element importance, normalised per layer (divided by the layer's mean score) so layers are comparable. */
function elementScores(state: ChannelState, opts: ChannelOptions, warnings: McWarning[]): Float64Array {
  const imp = importanceOf(opts.importance ?? PRUNE_DEFAULTS.importance);
  const scores = new Float64Array(state.elementCount);
  for (const r of state.roots) {
    const bn = state.bnScore.slice(r.offset, r.offset + r.count);
    const hasBn = bn.every((x) => Number.isFinite(x));
    const open = bn.some((_, i) => !state.isFixed(r.offset + i));
    if (imp.name === 'bn' && !hasBn && open) {
      warnings.push({
        code: 'W_SKIP',
        node: r.node.name,
        message: `${r.node.opType} '${r.node.name}' has no BatchNormalization after it; its channels are ranked by L1 norm`,
      });
    }
    const s = imp.scores({
      node: r.node,
      weight: toFloat32(r.weight.tensor),
      dims: r.weight.tensor.dims,
      outAxis: r.weight.outAxis,
      ...(hasBn && { bnScale: Float32Array.from(bn) }),
    });
    if (s.length !== r.count) {
      throw new McError(
        'E_OPTION',
        `importance '${imp.name}' returned ${s.length} scores for the ${r.count} output channels of ${r.node.opType} '${r.node.name}'; return one score per channel`,
      );
    }
    let mean = 0;
    for (let i = 0; i < r.count; i++) mean += Math.abs(s[i]!) / r.count;
    for (let i = 0; i < r.count; i++) scores[r.offset + i] = mean > 0 ? s[i]! / mean : s[i]!;
  }
  return scores;
}

function classesOf(state: ChannelState, scores: Float64Array): Map<number, ChannelClass[]> {
  const byRep = new Map<number, ChannelClass>();
  for (let e = 0; e < state.elementCount; e++) {
    const rep = state.find(e);
    let c = byRep.get(rep);
    if (c === undefined) {
      c = { rep, elements: [], group: state.findRoot(state.elementRoot[e]!), score: 0, fixed: state.isFixed(e) };
      byRep.set(rep, c);
    }
    c.elements.push(e);
  }
  const groups = new Map<number, ChannelClass[]>();
  for (const c of byRep.values()) {
    let s = 0;
    for (const e of c.elements) s += scores[e]!;
    c.score = s / c.elements.length;
    const list = groups.get(c.group) ?? [];
    list.push(c);
    groups.set(c.group, list);
  }
  return groups;
}

/** Picks the classes to remove (lowest scores first) under the ratio, the group minimum and the keep-one constraints. */
function select(state: ChannelState, groups: Map<number, ChannelClass[]>, opts: ChannelOptions): Set<number> {
  const minKeep = opts.minChannels ?? PRUNE_DEFAULTS.minChannels;
  const removed = new Set<number>();
  const count = new Map<number, number>();
  const room = (g: number, total: number): boolean => total - (count.get(g) ?? 0) > minKeep;
  const take = (c: ChannelClass): void => {
    removed.add(c.rep);
    count.set(c.group, (count.get(c.group) ?? 0) + 1);
  };
  const byScore = (a: ChannelClass, b: ChannelClass): number => a.score - b.score || a.rep - b.rep;
  // Groups of attention heads take their own ratio when one is given (per group, whatever the scope).
  const headGroups = new Set([...state.headSize.keys()].map((r) => state.findRoot(r)));
  const perGroup =
    (opts.scope ?? PRUNE_DEFAULTS.scope) === 'layer'
      ? groups
      : new Map([...groups].filter(([g]) => opts.heads !== undefined && headGroups.has(g)));
  for (const [g, list] of perGroup) {
    const want = Math.floor((headGroups.has(g) ? (opts.heads ?? opts.ratio) : opts.ratio) * list.length);
    for (const c of list.filter((x) => !x.fixed).sort(byScore)) {
      if ((count.get(g) ?? 0) >= want || !room(g, list.length)) break;
      take(c);
    }
  }
  if ((opts.scope ?? PRUNE_DEFAULTS.scope) === 'global') {
    const open = [...groups].filter(([g, l]) => !perGroup.has(g) && l.some((c) => !c.fixed)).map(([, l]) => l);
    const want = Math.floor(opts.ratio * open.reduce((n, l) => n + l.length, 0));
    const size = new Map(open.map((l) => [l[0]!.group, l.length]));
    const before = removed.size;
    for (const c of open
      .flat()
      .filter((x) => !x.fixed)
      .sort(byScore)) {
      if (removed.size - before >= want) break;
      if (room(c.group, size.get(c.group)!)) take(c);
    }
  }
  // Every layer and every Split output keeps a channel: put back the best-scored class where one would go empty.
  const scoreOf = new Map<number, number>();
  for (const list of groups.values()) for (const c of list) scoreOf.set(c.rep, c.score);
  for (const set of state.constraints) {
    if (set.length === 0 || set.some((e) => !removed.has(state.find(e)))) continue;
    const best = set.map((e) => state.find(e)).sort((a, b) => scoreOf.get(b)! - scoreOf.get(a)!)[0]!;
    removed.delete(best);
  }
  return removed;
}

/** Shapes of intermediate values are stale after removal: forget them and infer again. */
function refreshShapes(model: Model): void {
  const g = model.graph;
  for (const n of g.nodes) for (const o of n.outputs) if (!o.isGraphOutput()) o.shape = undefined;
  inferAllShapes(model);
}

/**
 * Structured channel pruning on `model` in place: builds the dependency groups, ranks channel classes, removes the
 * chosen ones from every member and updates shapes. @internal
 */
export function pruneChannels(model: Model, opts: ChannelOptions, warnings: McWarning[]): ChannelOutcome {
  inferAllShapes(model);
  const state = analyse(model, new Set(opts.exclude ?? []));
  if (state.roots.length === 0) {
    return {
      groups: [],
      achieved: 0,
      nothingToPrune: 'nothing to prune: the model has no Conv, ConvTranspose, Gemm or MatMul layer with a constant weight',
    };
  }
  const groups = classesOf(state, elementScores(state, opts, warnings));
  const removed = select(state, groups, opts);
  const isRemoved = (e: number): boolean => removed.has(state.find(e));
  for (const edit of state.edits) edit(isRemoved);
  if (removed.size > 0) {
    retie(model);
    model.graph.removeDeadNodes();
    model.graph.removeUnusedInitializers();
    refreshShapes(model);
  }
  const reports: GroupReport[] = [];
  let total = 0;
  for (const [g, list] of groups) {
    const roots = state.roots.filter((r) => state.findRoot(r.index) === g);
    const removedChannels: Record<string, number[]> = {};
    for (const r of roots) {
      const idx: number[] = [];
      for (let c = 0; c < r.count; c++) if (isRemoved(r.offset + c)) idx.push(c);
      removedChannels[r.node.name] = idx;
    }
    const members = roots.flatMap((r) => state.members[r.index]!);
    const reasons = [...new Set(roots.flatMap((r) => state.reasons[r.index]!))];
    total += list.length;
    const headSize = roots.map((r) => state.headSize.get(r.index)).find((h) => h !== undefined);
    reports.push({
      id: reports.length,
      roots: roots.map((r) => r.node.name),
      members: members.filter((m, i) => members.findIndex((x) => x.node === m.node && x.role === m.role) === i),
      channels: list.length,
      ...(headSize !== undefined && { headSize }),
      removed: list.filter((c) => removed.has(c.rep)).length,
      fixed: list.filter((c) => c.fixed).length,
      reasons,
      removedChannels,
    });
  }
  const out: ChannelOutcome = { groups: reports, achieved: total === 0 ? 0 : removed.size / total };
  if (reports.every((r) => r.fixed === r.channels)) {
    out.nothingToPrune = `nothing to prune: every channel group is left alone (${[...new Set(reports.flatMap((r) => r.reasons))].slice(0, 3).join('; ')})`;
  }
  return out;
}
