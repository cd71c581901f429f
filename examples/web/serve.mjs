#!/usr/bin/env node
// A tiny static server for the example page: the page, onnxruntime-web's files, the model and the images.
// Usage: node examples/web/serve.mjs <model.onnx> [--port 8080]   (images: the first 100 MNIST test images)
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
// onnxruntime-web exports no ./package.json; its main entry sits in dist/.
const ortDist = path.dirname(require.resolve('onnxruntime-web'));

const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/**
 * Serves the page on 127.0.0.1. `data` holds images (float32 [N,784], 0..1), labels (int32 [N]) and how to feed them.
 * @param {{ modelPath: string, images: Float32Array, labels: Int32Array, dims: number[], scale?: number, port?: number }} opts
 */
export async function startServer(opts) {
  const files = {
    '/data/images.bin': Buffer.from(opts.images.buffer, opts.images.byteOffset, opts.images.byteLength),
    '/data/labels.bin': Buffer.from(opts.labels.buffer, opts.labels.byteOffset, opts.labels.byteLength),
    '/data/meta.json': Buffer.from(JSON.stringify({ dims: opts.dims, scale: opts.scale ?? 1 })),
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let p = url.pathname === '/' ? '/index.html' : url.pathname;
    try {
      let body;
      if (files[p] !== undefined) body = files[p];
      else if (p === '/model.onnx') body = await readFile(opts.modelPath);
      else if (p.startsWith('/ort/')) body = await readFile(path.join(ortDist, path.basename(p)));
      else if (p === '/index.html' || p === '/app.mjs') body = await readFile(path.join(here, p.slice(1)));
      else throw new Error('not found');
      res.writeHead(200, { 'content-type': TYPES[path.extname(p)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const modelPath = process.argv[2];
  if (!modelPath) {
    process.stderr.write('usage: node examples/web/serve.mjs <model.onnx> [--port N]\n');
    process.exit(2);
  }
  const { loadMnist } = await import('@mc/datasets');
  const ds = await loadMnist(path.resolve(here, '../../../shared/data/mnist'), { split: 'test' });
  const images = new Float32Array(100 * 784);
  const labels = new Int32Array(100);
  let k = 0;
  for await (const b of ds.batches({ batchSize: 100, limit: 100, layout: 'NCHW' })) {
    images.set(b.x);
    labels.set(b.labels);
    k += b.labels.length;
  }
  const portFlag = process.argv.indexOf('--port');
  const s = await startServer({ modelPath, images, labels: labels.subarray(0, k), dims: [1, 1, 28, 28], port: portFlag > 0 ? Number(process.argv[portFlag + 1]) : 8080 });
  process.stdout.write(`open ${s.url}\n`);
}
