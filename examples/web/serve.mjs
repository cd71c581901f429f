#!/usr/bin/env node
// A tiny static server for the example page: the page, onnxruntime-web's files, the model and test images.
// Usage: node examples/web/serve.mjs <model.onnx> [--dataset mnist|cifar10] [--data-dir DIR] [--images N]
//        [--layout nchw|nhwc|nhw|flat] [--size HxW] [--channels 1|3] [--scale 1/255] [--port 8080]
// Every option after the model is a default the page's URL can override (?layout=nhwc&scale=1 ...).
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };
const USAGE = 'usage: node examples/web/serve.mjs <model.onnx> [--dataset mnist|cifar10] [--data-dir DIR] [--images N] [--layout nchw|nhwc|nhw|flat] [--size HxW] [--channels 1|3] [--scale 1/255] [--port 8080]';

/** A mistake the user can fix: printed as one line with an exit code, never as a stack trace. */
export class ServeError extends Error {
  constructor(message, exitCode) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Where onnxruntime-web's browser files are, or a ServeError saying how to get them. */
function ortDist() {
  try {
    // onnxruntime-web exports no ./package.json; its main entry sits in dist/.
    return path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  } catch {
    throw new ServeError('onnxruntime-web is not installed here; run pnpm install in the repository root', 3);
  }
}

/**
 * The first `count` test images of a data set as uint8 [N, H, W, C] with their labels.
 * @param {{ dataset?: string, dataDir?: string, count?: number }} opts
 */
export async function testImages(opts = {}) {
  const kind = opts.dataset ?? 'mnist';
  const dir = opts.dataDir ?? path.resolve(here, '../data/mnist-1k');
  let loadDataset;
  try {
    ({ loadDataset } = await import('@mc/datasets'));
  } catch {
    throw new ServeError('@mc/datasets is not built; run pnpm install && pnpm build in the repository root', 3);
  }
  let ds;
  try {
    ds = await loadDataset(kind, dir, { split: 'test', limit: opts.count ?? 100 });
  } catch (e) {
    throw new ServeError(`cannot read ${kind} test images in ${dir}: ${e.message}; pass --dataset mnist|cifar10 --data-dir DIR (the repository ships examples/data/mnist-1k)`, 3);
  }
  if (ds.inputShape.length !== 3) throw new ServeError(`${kind} in ${dir} holds no images (samples [${ds.inputShape.join(', ')}])`, 3);
  const [c, h, w] = ds.inputShape;
  const n = Math.min(ds.size, opts.count ?? 100);
  const images = new Uint8Array(n * h * w * c);
  const labels = new Int32Array(n);
  let k = 0;
  for await (const b of ds.batches({ batchSize: n, limit: n, layout: 'NHWC', scale: 1 })) {
    for (let i = 0; i < b.x.length; i++) images[k * h * w * c + i] = Math.round(b.x[i]);
    labels.set(b.labels, k);
    k += b.labels.length;
  }
  const classes = kind === 'cifar10' ? ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] : undefined;
  return { images, labels, height: h, width: w, channels: c, dataset: ds.name, ...(classes && { classes }) };
}

/**
 * Serves the page on 127.0.0.1. `defaults` are the page's settings where its URL gives none.
 * @param {{ modelPath: string, data: Awaited<ReturnType<typeof testImages>>, defaults?: Record<string, string>, port?: number }} opts
 */
export async function startServer(opts) {
  const ort = ortDist();
  const { images, labels, defaults, ...meta } = { ...opts.data, defaults: opts.defaults ?? {} };
  const files = {
    '/data/images.bin': Buffer.from(images.buffer, images.byteOffset, images.byteLength),
    '/data/labels.bin': Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength),
    '/data/meta.json': Buffer.from(JSON.stringify({ ...meta, defaults })),
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const p = url.pathname === '/' ? '/index.html' : url.pathname;
    try {
      let body;
      if (files[p] !== undefined) body = files[p];
      else if (p === '/model.onnx') body = await readFile(opts.modelPath);
      else if (p.startsWith('/ort/')) body = await readFile(path.join(ort, path.basename(p)));
      else if (p === '/index.html' || p === '/app.mjs') body = await readFile(path.join(here, p.slice(1)));
      else throw new Error('not found');
      res.writeHead(200, { 'content-type': TYPES[path.extname(p)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', (e) => reject(new ServeError(`cannot listen on 127.0.0.1:${opts.port ?? 0}: ${e.code ?? e.message}; pass another --port`, 2)));
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: Object.fromEntries(['dataset', 'data-dir', 'images', 'layout', 'size', 'channels', 'scale', 'port'].map((k) => [k, { type: 'string' }])),
    });
  } catch (e) {
    throw new ServeError(`${e.message}\n${USAGE}`, 2);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) throw new ServeError(`pass one model file, got ${positionals.length}\n${USAGE}`, 2);
  const modelPath = path.resolve(positionals[0]);
  try {
    await readFile(modelPath);
  } catch (e) {
    throw new ServeError(`cannot read the model ${modelPath}: ${e.code ?? e.message}; pass the path of an .onnx file (e.g. the README's mnist-mlp-small.onnx, or mc convert model.h5 model.onnx first)`, 3);
  }
  const count = v.images === undefined ? 100 : Number(v.images);
  if (!(Number.isInteger(count) && count > 0)) throw new ServeError(`--images must be a positive integer, got ${v.images}`, 2);
  const port = v.port === undefined ? 8080 : Number(v.port);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) throw new ServeError(`--port must be a port number, got ${v.port}`, 2);
  const data = await testImages({ ...(v.dataset && { dataset: v.dataset }), ...(v['data-dir'] && { dataDir: path.resolve(v['data-dir']) }), count });
  const defaults = Object.fromEntries(['layout', 'size', 'channels', 'scale'].filter((k) => v[k] !== undefined).map((k) => [k, v[k]]));
  const s = await startServer({ modelPath, data, defaults, port });
  process.stdout.write(`serving ${modelPath} with ${data.labels.length} ${data.dataset} images: open ${s.url}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    if (!(e instanceof ServeError)) throw e;
    process.stderr.write(`serve.mjs: ${e.message}\n`);
    process.exit(e.exitCode);
  });
}
