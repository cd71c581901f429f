// The worker side of readIsolated: runs one HDF5-backed read and posts the graph (tensors detached) or the error.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { McError } from '@mc/ir';
import { detachGraph, type IsolatedResult } from './h5-isolate.js';
import type { KerasModelJson } from './keras-format.js';
import { readH5Model } from './read-h5.js';
import { readKerasZip } from './read-keras-zip.js';

const { kind, args } = workerData as { kind: 'h5' | 'keras' | 'json+h5'; args: { path: string; arch?: KerasModelJson; archFile?: string } };
let result: IsolatedResult;
try {
  const graph =
    kind === 'keras' ? await readKerasZip(args.path, readFileSync(args.path)) : await readH5Model(args.path, args.arch, args.archFile);
  result = detachGraph(graph);
} catch (e) {
  result = McError.is(e)
    ? { ok: false, error: { code: e.code, message: e.message, context: e.context } }
    : {
        ok: false,
        error: { message: `cannot read '${args.path}': ${(e as Error).message ?? String(e)}; the file is damaged or not a Keras model` },
      };
}
const transfer = result.ok
  ? result.tensors.flat().flatMap((t) => (ArrayBuffer.isView(t.data) ? [(t.data as Uint8Array).buffer as ArrayBuffer] : []))
  : [];
// Buffers shared by several views are transferred once.
parentPort!.postMessage(result, [...new Set(transfer)]);
