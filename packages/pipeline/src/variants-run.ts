import type { Feeds, Model, Tensor } from '@mc/ir';
import { createSession, createWebSession, type ModelSession } from '@mc/verify';

/** Outputs of one run, by output name, as float32 (what parity compares). */
export type Outputs = Record<string, Float32Array>;

function toFloat(t: Tensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>, Number);
}

/** Cosine similarity of two float arrays (1 when both are zero). */
export function cosineOf(a: Float32Array, b: Float32Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i] ?? 0;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

/** Least cosine over every output of every run. */
export function worstCosine(ref: readonly Outputs[], got: readonly Outputs[]): number {
  let worst = 1;
  for (const [i, r] of ref.entries()) {
    for (const [name, a] of Object.entries(r)) {
      const b = got[i]?.[name];
      worst = Math.min(worst, b === undefined || b.length !== a.length ? 0 : cosineOf(a, b));
    }
  }
  return worst;
}

/** Median of timed runs after warm-up: at least `min` runs, more while the time box allows. */
async function median(run: () => Promise<unknown>, min = 5, boxMs = 400): Promise<number> {
  for (let i = 0; i < 2; i++) await run();
  const times: number[] = [];
  const until = performance.now() + boxMs;
  for (let i = 0; i < 200 && (i < min || performance.now() < until); i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((x, y) => x - y);
  return times[times.length >> 1]!;
}

/** What one runtime made of a model: its outputs on every feed and the median latency of the first feed (ms). */
export interface RuntimeRun {
  outputs: Outputs[];
  latencyMs: number;
}

/** Runs `model` in onnxruntime-node (CPU EP, one thread) on `feeds`, then times the first feed. */
export async function runNode(model: Model | Uint8Array, feeds: readonly Feeds[]): Promise<RuntimeRun> {
  return runIn(await createSession(model, { sessionOptions: { intraOpNumThreads: 1 } }), feeds);
}

/** Runs `model` in onnxruntime-web (wasm backend, one thread, in Node) on `feeds`, then times the first feed. */
export async function runWeb(model: Model | Uint8Array, feeds: readonly Feeds[]): Promise<RuntimeRun> {
  return runIn(await createWebSession(model), feeds);
}

/** Runs a session on `feeds` (outputs as float32), times the first feed, then releases the session. */
async function runIn(s: ModelSession, feeds: readonly Feeds[]): Promise<RuntimeRun> {
  try {
    const outputs: Outputs[] = [];
    for (const f of feeds) outputs.push(Object.fromEntries(Object.entries(await s.run(f)).map(([k, t]) => [k, toFloat(t)])));
    return { outputs, latencyMs: await median(() => s.run(feeds[0]!)) };
  } finally {
    await s.release();
  }
}

/**
 * Latency of several models in onnxruntime-node on one feed, measured interleaved (round r times each model in turn)
 * and the least median per model kept: on a shared machine a load spike then hits every model alike.
 */
export async function interleavedLatency(models: readonly (Model | Uint8Array)[], feed: Feeds, rounds = 5): Promise<number[]> {
  const sessions = [];
  try {
    for (const m of models) sessions.push(await createSession(m, { sessionOptions: { intraOpNumThreads: 1 } }));
    const best = models.map(() => Number.POSITIVE_INFINITY);
    for (let r = 0; r < rounds; r++) {
      for (const [i, s] of sessions.entries()) best[i] = Math.min(best[i]!, await median(() => s.run(feed), 5, 150));
    }
    return best;
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}
