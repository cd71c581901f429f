import { type Feeds, McError, type Model, type Node, type Tensor, Value, inferShapes } from '@mc/ir';

/**
 * Weight bytes above which {@link createSession} runs a model in segments instead of one onnxruntime session: one
 * session holds its weights twice while it loads (the serialised model and onnxruntime's copy), and a model over
 * 2 GiB cannot be serialised into one protobuf buffer at all.
 */
export const SEGMENTED_ABOVE_BYTES = 256 * 1024 * 1024;
/** Largest weight bytes of one segment (unless a single node holds more). */
export const SEGMENT_BYTES = 64 * 1024 * 1024;

/** A run of consecutive nodes (topological order) and the values that cross its borders. */
export interface Segment {
  /** Index range [start, end) in `model.graph.nodes`. */
  readonly start: number;
  readonly end: number;
  /** Names of the values the segment reads from earlier segments or the graph inputs. */
  readonly inputs: readonly string[];
  /** Names of the values later segments or the graph outputs read. */
  readonly outputs: readonly string[];
  readonly weightBytes: number;
}

/** Bytes of the initializers a model's nodes read (each once). */
export function weightBytes(model: Model): number {
  let n = 0;
  for (const v of model.graph.initializers.values()) n += v.constValue?.byteLength ?? 0;
  return n;
}

function hasSubgraphs(node: Node): boolean {
  for (const a of node.attributes.values()) if (a.type === 'GRAPH' || a.type === 'GRAPHS') return true;
  return false;
}

/**
 * Cuts a model's nodes into consecutive segments of at most `budget` weight bytes. Throws `E_UNSUPPORTED` for graphs
 * with subgraphs (If/Loop/Scan read outer values implicitly).
 */
export function planSegments(model: Model, budget = SEGMENT_BYTES): Segment[] {
  const g = model.graph;
  const nodes = g.nodes;
  const bad = nodes.find(hasSubgraphs);
  if (bad !== undefined) {
    throw new McError(
      'E_UNSUPPORTED',
      `a model with ${weightBytes(model)} weight bytes runs in segments, and node '${bad.name}' (${bad.opType}) holds a subgraph, which cannot be cut; pass --no-verify`,
      { context: { node: bad.name, opType: bad.opType } },
    );
  }
  const cuts: [number, number, number][] = [];
  let start = 0;
  let bytes = 0;
  let seen = new Set<string>();
  nodes.forEach((n, i) => {
    let add = 0;
    for (const v of n.inputs) if (v !== undefined && v.isInitializer() && !seen.has(v.name)) add += v.constValue?.byteLength ?? 0;
    if (i > start && bytes + add > budget) {
      cuts.push([start, i, bytes]);
      start = i;
      bytes = 0;
      seen = new Set();
      add = 0;
      for (const v of n.inputs) if (v !== undefined && v.isInitializer() && !seen.has(v.name)) add += v.constValue?.byteLength ?? 0;
    }
    for (const v of n.inputs) if (v !== undefined && v.isInitializer()) seen.add(v.name);
    bytes += add;
  });
  if (nodes.length > start) cuts.push([start, nodes.length, bytes]);
  const segOf = new Map<Node, number>();
  cuts.forEach(([a, b], k) => {
    for (let i = a; i < b; i++) segOf.set(nodes[i]!, k);
  });
  return cuts.map(([a, b, w], k) => {
    const inputs = new Set<string>();
    const outputs = new Set<string>();
    for (let i = a; i < b; i++) {
      const n = nodes[i]!;
      for (const v of n.inputs) {
        if (v === undefined || v.name === '' || v.isInitializer()) continue;
        const p = v.producer();
        if (p === undefined || segOf.get(p) !== k) inputs.add(v.name);
      }
      for (const o of n.outputs) {
        if (o.name === '') continue;
        if (o.isGraphOutput() || o.uses().some((u) => segOf.get(u.node) !== k)) outputs.add(o.name);
      }
    }
    return { start: a, end: b, inputs: [...inputs], outputs: [...outputs], weightBytes: w };
  });
}

/**
 * The model of one segment: its nodes, the initializers they read, the border values as graph inputs and outputs.
 * Tensors are shared with `model` (a lazy external-data weight stays lazy until the segment is serialised).
 */
export function segmentModel(model: Model, seg: Segment): Model {
  const m = model.clone();
  inferShapes(m);
  const g = m.graph;
  const nodes = [...g.nodes];
  const inSeg = new Set(nodes.slice(seg.start, seg.end));
  const byName = new Map<string, Value>();
  for (const n of inSeg) for (const v of n.inputs) if (v !== undefined) byName.set(v.name, v);
  for (const n of inSeg) for (const o of n.outputs) byName.set(o.name, o);
  const fresh: Value[] = [];
  for (const name of seg.inputs) {
    const v = byName.get(name)!;
    if (v.dtype === undefined) {
      throw new McError('E_UNSUPPORTED', `value '${name}' crosses a segment border and its type is unknown; pass --no-verify`);
    }
    const nv = new Value(`${name}__segment_input`, { dtype: v.dtype, ...(v.shape !== undefined && { shape: v.shape }) });
    for (const u of v.uses()) if (inSeg.has(u.node)) u.node.replaceInput(u.index, nv);
    fresh.push(nv);
  }
  g.outputs.length = 0;
  for (const name of seg.outputs) g.addOutput(byName.get(name)!);
  for (let i = nodes.length - 1; i >= 0; i--) if (!inSeg.has(nodes[i]!)) g.remove(nodes[i]!);
  g.inputs.length = 0;
  for (const nv of fresh) {
    nv.name = nv.name.slice(0, -'__segment_input'.length);
    g.addInput(nv);
  }
  g.valueInfo.length = 0;
  g.removeUnusedInitializers();
  g.touch();
  return m;
}

/** Runs one segment on every batch (its session opened once) and returns the border values it produces. */
export type SegmentRunner = (segment: Model, feeds: readonly Feeds[]) => Promise<Record<string, Tensor>[]>;

/**
 * Runs a model segment by segment on several batches: each segment's session is opened, run on every batch and
 * released before the next opens, so at most one segment's weights are in memory. Returns the graph outputs.
 */
export async function runSegmented(
  model: Model,
  feeds: readonly Feeds[],
  run: SegmentRunner,
  budget = SEGMENT_BYTES,
): Promise<Record<string, Tensor>[]> {
  const segs = planSegments(model, budget);
  const acts: Record<string, Tensor>[] = feeds.map((f) => ({ ...f }));
  const later = (k: number) => new Set(segs.slice(k + 1).flatMap((s) => s.inputs));
  const outputs = model.graph.outputs.map((v) => v.name);
  for (const [k, seg] of segs.entries()) {
    const part = segmentModel(model, seg);
    const inFeeds = acts.map((a) => Object.fromEntries(seg.inputs.map((n) => [n, a[n]!])));
    const res = await run(part, inFeeds);
    const keep = later(k);
    res.forEach((r, i) => {
      for (const [n, t] of Object.entries(r)) acts[i]![n] = t;
      // border values no later segment reads (and that are not graph outputs) are dropped
      for (const n of seg.inputs) if (!keep.has(n) && !outputs.includes(n)) delete acts[i]![n];
    });
  }
  return acts.map((a) => Object.fromEntries(outputs.map((n) => [n, a[n]!])));
}
