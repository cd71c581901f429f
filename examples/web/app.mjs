// Runs an image classifier (ONNX) with onnxruntime-web on the test images the server hands out (data/images.bin:
// uint8 [N, H, W, C]; data/labels.bin: int32 [N]; data/meta.json: their size and the server's defaults) and shows
// every prediction. How the model is fed (layout, size, channels) is read from its input shape; the pixel scale and
// anything the shape leaves open come from the URL (?layout=nchw|nhwc|nhw|flat&size=28x28&channels=1&scale=1/255),
// else from the server's flags. The result is left in window.mcResult for tests.
import * as ort from './ort/ort.wasm.min.mjs';

ort.env.wasm.wasmPaths = new URL('./ort/', import.meta.url).href;
ort.env.wasm.numThreads = 1;

const status = document.getElementById('status');

/** A mistake in the model or the parameters: shown as its message alone. */
class UsageError extends Error {}

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new UsageError(`the server has no ${url} (HTTP ${res.status}); start the page with node examples/web/serve.mjs <model.onnx>`);
  return res.arrayBuffer();
}

/** `1/255`, `0.0039`, `1` → a number. */
function parseScale(s) {
  const m = /^1\/(\d+(?:\.\d+)?)$/.exec(s);
  const v = m ? 1 / Number(m[1]) : Number(s);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`scale '${s}' is not a positive number or 1/N; use scale=1/255 for pixels in [0, 1], scale=1 for raw 0-255 pixels`);
  return v;
}

function parseSize(s) {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new UsageError(`size '${s}' is not HxW; use e.g. size=28x28`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * How to feed an input of shape `dims` (batch first; a symbolic dim is a string or -1): its layout and the height,
 * width and channels of one image. `given` holds what the URL or server fixed; `data` the images' own size.
 */
export function planInput(name, dims, given, data) {
  const shown = `[${dims.map((d) => (typeof d === 'number' && d >= 0 ? d : '?')).join(', ')}]`;
  const fail = (why) => {
    throw new UsageError(`model input '${name}' has shape ${shown}: ${why}; pass layout=nchw|nhwc|nhw|flat, size=HxW and channels=1|3 in the URL (or --layout, --size, --channels to serve.mjs)`);
  };
  const known = (d) => (typeof d === 'number' && d > 0 ? d : undefined);
  const rank = dims.length;
  let layout = given.layout;
  if (layout === undefined) {
    if (rank === 4) layout = known(dims[1]) !== undefined && dims[1] <= 4 ? 'nchw' : known(dims[3]) !== undefined && dims[3] <= 4 ? 'nhwc' : undefined;
    else if (rank === 3) layout = 'nhw';
    else if (rank === 2) layout = 'flat';
    if (layout === undefined) fail('it is not an image input [N, C, H, W], [N, H, W, C], [N, H, W] or [N, features]');
  }
  const wantRank = { nchw: 4, nhwc: 4, nhw: 3, flat: 2 }[layout];
  if (wantRank === undefined) throw new UsageError(`layout '${layout}' is not one of nchw, nhwc, nhw, flat`);
  if (rank !== wantRank) fail(`layout ${layout} needs a rank-${wantRank} input`);
  let [h, w, c] = { nchw: [dims[2], dims[3], dims[1]], nhwc: [dims[1], dims[2], dims[3]], nhw: [dims[1], dims[2], 1], flat: [undefined, undefined, undefined] }[layout].map(known);
  const [gh, gw] = given.size ?? [];
  if (gh !== undefined && ((h !== undefined && h !== gh) || (w !== undefined && w !== gw))) fail(`size ${gh}x${gw} does not match the model's ${h}x${w}`);
  if (given.channels !== undefined && c !== undefined && c !== given.channels) fail(`channels=${given.channels} does not match the model's ${c}`);
  h ??= gh;
  w ??= gw;
  c ??= given.channels;
  if (layout === 'flat') {
    const features = known(dims[1]);
    if (features === undefined) fail('its feature count is unknown');
    c ??= [data.channels, 1, 3].find((k) => features % k === 0 && Number.isInteger(Math.sqrt(features / k)) && (h === undefined || features === k * h * w));
    if (c === undefined) fail(`${features} features are no square image of 1 or 3 channels`);
    if (h === undefined) h = w = Math.sqrt(features / c);
    if (c * h * w !== features) fail(`${c} x ${h} x ${w} is not its ${features} features`);
  }
  h ??= data.height;
  w ??= data.width;
  c ??= data.channels;
  if (c !== 1 && c !== 3) fail(`${c} channels: the page feeds grey (1) or RGB (3) images`);
  return { layout, height: h, width: w, channels: c };
}

/** One image (uint8 [H0, W0, C0]) as the model's float input: resized (nearest), grey ↔ RGB, times `scale`. */
function toInput(px, data, plan, scale) {
  const { height: H, width: W, channels: C, layout } = plan;
  const out = new Float32Array(H * W * C);
  for (let y = 0; y < H; y++) {
    const sy = Math.min(data.height - 1, Math.floor(((y + 0.5) * data.height) / H));
    for (let x = 0; x < W; x++) {
      const sx = Math.min(data.width - 1, Math.floor(((x + 0.5) * data.width) / W));
      const at = (sy * data.width + sx) * data.channels;
      for (let c = 0; c < C; c++) {
        const v = data.channels === C ? px[at + c] : C === 1 ? (px[at] + px[at + 1] + px[at + 2]) / 3 : px[at];
        out[layout === 'nchw' ? (c * H + y) * W + x : (y * W + x) * C + c] = v * scale;
      }
    }
  }
  return out;
}

function draw(figure, px, data) {
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [data.width, data.height];
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(data.width, data.height);
  for (let i = 0; i < data.width * data.height; i++) {
    const rgb = data.channels === 3 ? [px[i * 3], px[i * 3 + 1], px[i * 3 + 2]] : [255 - px[i], 255 - px[i], 255 - px[i]];
    img.data.set([...rgb, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  figure.append(canvas);
}

async function main() {
  const meta = JSON.parse(new TextDecoder().decode(await fetchBytes('./data/meta.json')));
  const images = new Uint8Array(await fetchBytes('./data/images.bin'));
  const labels = new Int32Array(await fetchBytes('./data/labels.bin'));
  const q = new URLSearchParams(location.search);
  const pick = (k) => q.get(k) ?? meta.defaults[k] ?? undefined;
  const given = {
    ...(pick('layout') !== undefined && { layout: String(pick('layout')).toLowerCase() }),
    ...(pick('size') !== undefined && { size: parseSize(String(pick('size'))) }),
    ...(pick('channels') !== undefined && { channels: Number(pick('channels')) }),
  };
  const scale = parseScale(String(pick('scale') ?? '1/255'));
  let session;
  try {
    session = await ort.InferenceSession.create('./model.onnx', { executionProviders: ['wasm'] });
  } catch (e) {
    throw new UsageError(`onnxruntime-web cannot load the model: ${e.message}`);
  }
  const inputs = session.inputMetadata.filter((m) => m.isTensor);
  if (session.inputNames.length !== 1) throw new UsageError(`the model has ${session.inputNames.length} inputs (${session.inputNames.join(', ')}); the page feeds image classifiers with one input`);
  const input = inputs[0];
  if (input.type !== 'float32') throw new UsageError(`model input '${input.name}' is ${input.type}; the page feeds float32 images`);
  const plan = planInput(input.name, input.shape, given, meta);
  document.getElementById('plan').textContent = `input '${input.name}' [${input.shape.join(', ')}] fed as ${plan.layout.toUpperCase()} ${plan.height}x${plan.width}, ${plan.channels} channel(s), pixels x ${scale.toPrecision(4)}`;
  const n = labels.length;
  const sample = meta.height * meta.width * meta.channels;
  const dims = { nchw: [1, plan.channels, plan.height, plan.width], nhwc: [1, plan.height, plan.width, plan.channels], nhw: [1, plan.height, plan.width], flat: [1, plan.channels * plan.height * plan.width] }[plan.layout];
  const top1 = [];
  const grid = document.getElementById('grid');
  if (meta.classes !== undefined) grid.style.gridTemplateColumns = 'repeat(auto-fill, 76px)'; // room for class names
  for (let i = 0; i < n; i++) {
    const px = images.subarray(i * sample, (i + 1) * sample);
    const out = await session.run({ [input.name]: new ort.Tensor('float32', toInput(px, meta, plan, scale), dims) });
    const logits = out[session.outputNames[0]].data;
    let best = 0;
    for (let k = 1; k < logits.length; k++) if (logits[k] > logits[best]) best = k;
    top1.push(best);
    const fig = document.createElement('figure');
    draw(fig, px, meta);
    const cap = document.createElement('figcaption');
    cap.textContent = meta.classes?.[best] ?? String(best);
    if (best !== labels[i]) cap.className = 'wrong';
    fig.append(cap);
    grid.append(fig);
  }
  const correct = top1.filter((p, i) => p === labels[i]).length;
  const low = correct < 0.3 * n ? ' — far below a trained classifier: check the pixel scale (scale=1 for raw 0-255 pixels, scale=1/255 for [0, 1]) and the layout' : '';
  status.textContent = `${correct} / ${n} correct (${((100 * correct) / n).toFixed(1)} %) on ${meta.dataset}${low}`;
  window.mcResult = { top1, correct, n, plan: { ...plan, scale } };
}

main().catch((e) => {
  // Only the message: a user needs what went wrong and what to change, not where in this file it happened.
  const message = e instanceof UsageError ? e.message : `${e?.message ?? e}`;
  status.textContent = `error: ${message}`;
  status.className = 'wrong';
  window.mcResult = { error: message };
});
