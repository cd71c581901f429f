// Runs model.onnx with onnxruntime-web on the images in data/images.bin (float32 [N,1,28,28]) and
// data/labels.bin (int32 [N]); shows every prediction and leaves them in window.mcResult for tests.
import * as ort from './ort/ort.wasm.min.mjs';

ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
ort.env.wasm.numThreads = 1;

const status = document.getElementById('status');

async function fetchArray(url, Type) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Type(await res.arrayBuffer());
}

function draw(figure, pixels) {
  const canvas = document.createElement('canvas');
  canvas.width = 28;
  canvas.height = 28;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = Math.round(255 * (1 - Math.min(1, Math.max(0, pixels[i]))));
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  figure.append(canvas);
}

async function main() {
  const session = await ort.InferenceSession.create('./model.onnx', { executionProviders: ['wasm'] });
  const images = await fetchArray('./data/images.bin', Float32Array);
  const labels = await fetchArray('./data/labels.bin', Int32Array);
  const n = labels.length;
  const inputName = session.inputNames[0];
  const meta = await (await fetch('./data/meta.json')).json();
  const top1 = [];
  const grid = document.getElementById('grid');
  for (let i = 0; i < n; i++) {
    const x = images.subarray(i * 784, (i + 1) * 784);
    const feeds = { [inputName]: new ort.Tensor('float32', x.map((v) => v * meta.scale), meta.dims) };
    const out = await session.run(feeds);
    const logits = out[session.outputNames[0]].data;
    let best = 0;
    for (let k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
    top1.push(best);
    const fig = document.createElement('figure');
    draw(fig, x);
    const cap = document.createElement('figcaption');
    cap.textContent = String(best);
    if (best !== labels[i]) cap.className = 'wrong';
    fig.append(cap);
    grid.append(fig);
  }
  const correct = top1.filter((p, i) => p === labels[i]).length;
  status.textContent = `${correct} / ${n} correct (${((100 * correct) / n).toFixed(1)} %)`;
  window.mcResult = { top1, correct, n };
}

main().catch((e) => {
  status.textContent = `error: ${e.message}`;
  window.mcResult = { error: String(e && e.stack ? e.stack : e) };
});
