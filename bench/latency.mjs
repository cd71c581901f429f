// One latency measurement for the benches: an onnxruntime-node session with 1 intra-op thread (by default), 5 warm-up
// runs, then the median of `runs` timed runs on a constant input of the given shape.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Loaded on first use: the benches build the packages (tsc -b) after their static imports ran.
const load = (p) => import(path.join(root, p, 'dist/index.js'));

/**
 * Median milliseconds of one inference of `model` on a `dims`-shaped input filled with `fill`.
 * @param {import('@mc/ir').Model} model
 * @param {number[]} dims
 * @param {{ runs?: number, threads?: number, fill?: number }} [opts]
 */
export async function medianLatency(model, dims, { runs = 20, threads = 1, fill = 100 } = {}) {
  const [verify, ir] = await Promise.all([load('packages/verify'), load('packages/ir')]);
  const s = await verify.createSession(model, { sessionOptions: { intraOpNumThreads: threads } });
  const name = model.graph.inputs[0].name;
  const x = new ir.Tensor('float32', dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(fill));
  for (let i = 0; i < 5; i++) await s.run({ [name]: x });
  const ts = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await s.run({ [name]: x });
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await s.release();
  return ts.sort((a, b) => a - b)[ts.length >> 1];
}
