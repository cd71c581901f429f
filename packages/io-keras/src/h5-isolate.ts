import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { McError, type McErrorCode, type McErrorContext, Tensor } from '@mc/ir';
import type { KerasGraph } from './keras-graph.js';

/** What the worker sends back: the graph with its tensors as plain data, or the error. @internal */
export type IsolatedResult =
  | { ok: true; graph: KerasGraph; tensors: { dtype: Tensor['dtype']; dims: readonly number[]; data: unknown; info: Tensor['info'] }[][] }
  | { ok: false; error: { code?: McErrorCode; message: string; context?: McErrorContext } };

/** Strips the tensors out of a graph so it can cross a thread boundary (typed arrays are transferred). @internal */
export function detachGraph(graph: KerasGraph): IsolatedResult {
  const tensors = graph.layers.map((l) => l.weights.map((t) => ({ dtype: t.dtype, dims: t.dims, data: t.data, info: t.info })));
  return { ok: true, graph: { ...graph, layers: graph.layers.map((l) => ({ ...l, weights: [] })) }, tensors };
}

/**
 * Seconds an HDF5 read may take before it is taken for a hang: libhdf5 can loop forever on some damaged structures
 * (seen under fuzzing), inside one synchronous wasm call that nothing on the same thread can interrupt. 20 s plus 1 s
 * per 10 MB of file.
 */
function budgetMs(file: string): number {
  let size = 0;
  try {
    size = statSync(file).size;
  } catch {
    // the reader reports a missing file itself
  }
  return 20_000 + Math.ceil(size / 10_000_000) * 1000;
}

/**
 * Runs an HDF5-backed read (`.h5`, `.keras`, architecture + weights) in a worker thread with a time budget, so a file
 * that makes libhdf5 loop is refused with E_FORMAT instead of hanging the process. Falls back to `inProcess` when the
 * compiled worker is not there (running from TypeScript sources, e.g. under vitest).
 * @internal
 */
export async function readIsolated(
  kind: 'h5' | 'keras' | 'json+h5',
  args: unknown,
  file: string,
  inProcess: () => Promise<KerasGraph>,
): Promise<KerasGraph> {
  const url = new URL('./h5-worker.js', import.meta.url);
  if (!existsSync(fileURLToPath(url))) return inProcess();
  const worker = new Worker(url, { workerData: { kind, args } });
  const limit = budgetMs(file);
  const result = await new Promise<IsolatedResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(
        new McError(
          'E_FORMAT',
          `reading the HDF5 structures of '${file}' did not finish in ${limit / 1000} s; the file is damaged (libhdf5 loops on some damaged structures): export or copy it again`,
          { context: { file } },
        ),
      );
    }, limit);
    worker.once('message', (m: IsolatedResult) => {
      clearTimeout(timer);
      resolve(m);
    });
    worker.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0)
        reject(
          new McError(
            'E_FORMAT',
            `reading '${file}' stopped the HDF5 reader (exit ${code}); the file is damaged: export or copy it again`,
            { context: { file } },
          ),
        );
    });
  });
  await worker.terminate();
  if (!result.ok) {
    throw new McError(
      result.error.code ?? 'E_FORMAT',
      result.error.message,
      result.error.context === undefined ? {} : { context: result.error.context },
    );
  }
  const graph = result.graph;
  graph.layers.forEach((l, i) => {
    l.weights = result.tensors[i]!.map((t) => new Tensor(t.dtype, t.dims, t.data as never, t.info));
  });
  return graph;
}
