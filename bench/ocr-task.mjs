// Task metrics for PaddleOCR PP-OCRv4 (see corpus.mjs 'ppocr'), shared by tests and benches:
// - rec: text lines rendered by ImageMagick with DejaVu fonts, read by the model (height 48, BGR, (x/255-0.5)/0.5,
//   CTC greedy decode over ['blank', ...keys, ' ']); the exact-match rate of the decoded strings.
// - det: text pages rendered the same way (ImageNet mean/std on BGR, sides multiples of 32); probability maps of two
//   models compared: max |Δ| and the agreement of the maps binarised at 0.3 (PaddleOCR's DB threshold).
// The models run in onnxruntime-node (graph optimisations 'all', as a user runs them).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

/** ImageMagick's convert: $MC_CONVERT, else /usr/bin/convert (Debian's imagemagick), else the one on PATH. */
export const CONVERT = process.env.MC_CONVERT ?? (existsSync('/usr/bin/convert') ? '/usr/bin/convert' : 'convert');

/** Why the renderer cannot run, or undefined when it can (ImageMagick with the DejaVu Sans font). */
export function rendererMissing() {
  const r = spawnSync(CONVERT, ['-list', 'font'], { encoding: 'utf8' });
  if (r.status !== 0) return `ImageMagick '${CONVERT}' is not runnable (${r.error?.message ?? `exit ${r.status}`}); apt-get install imagemagick`;
  if (!/Font: DejaVu-Sans\n/.test(r.stdout)) return 'ImageMagick has no DejaVu-Sans font; apt-get install fonts-dejavu-core';
  return undefined;
}

function magick(args, what) {
  const r = spawnSync(CONVERT, args, { maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`convert failed on ${what}: ${r.stderr?.toString() ?? r.error?.message}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length);
}

const FONTS = ['DejaVu-Sans', 'DejaVu-Serif', 'DejaVu-Sans-Mono', 'DejaVu-Sans-Bold'];
const WORDS = ('model compress quantize float half weight layer tensor graph export paddle detect text line page ' +
  'invoice total amount number street river garden window yellow orange silver market station office ' +
  'Berlin Paris London Tokyo Madrid Oslo Lima Cairo Delhi Sydney').split(' ');

/** Deterministic text lines: digits, dates, prices, latin words, mixed case (characters ImageMagick's `label:` keeps). */
export function textLines(n, seed = 1) {
  let s = seed >>> 0;
  const rnd = (k) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % k;
  };
  const digits = (k) => Array.from({ length: k }, () => rnd(10)).join('');
  const word = () => WORDS[rnd(WORDS.length)];
  const kinds = [
    () => digits(4 + rnd(8)),
    () => `${digits(2)}-${digits(2)}-20${digits(2)}`,
    () => `${word()} ${digits(1 + rnd(4))}`,
    () => `${word()} ${word()}`,
    () => {
      const w = word();
      return `${w[0].toUpperCase()}${w.slice(1)} ${digits(3)}.${digits(2)}`;
    },
    () => `${word()} ${word()} ${word()}`,
  ];
  return Array.from({ length: n }, (_, i) => ({ text: kinds[i % kinds.length](), font: FONTS[rnd(FONTS.length)] }));
}

/** Splits concatenated binary PPM (P6, maxval 255) images into `{ width, height, rgb }`. */
function splitPpm(bytes) {
  const out = [];
  let at = 0;
  const token = () => {
    while (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09) at++;
    let t = '';
    while (at < bytes.length && bytes[at] > 0x20) t += String.fromCharCode(bytes[at++]);
    return t;
  };
  while (at < bytes.length) {
    if (token() !== 'P6') throw new Error('convert did not write binary PPM');
    const width = Number(token());
    const height = Number(token());
    token(); // maxval 255 (-depth 8)
    at++; // the single whitespace byte before the pixels
    out.push({ width, height, rgb: bytes.subarray(at, at + width * height * 3) });
    at += width * height * 3;
  }
  return out;
}

/**
 * Text lines rendered black on white, `height` rows (default 48, the rec model's), one convert call per 40 lines.
 * Returns the lines with `img: { width, height, rgb }`.
 */
export function renderLines(lines, height = 48) {
  const out = [];
  for (let i = 0; i < lines.length; i += 40) {
    const chunk = lines.slice(i, i + 40);
    const args = ['-background', 'white', '-fill', 'black', '-pointsize', '40'];
    for (const l of chunk) args.push('-font', l.font, `label:${l.text}`);
    args.push('-bordercolor', 'white', '-border', '8x4', '-resize', `x${height}`, '-depth', '8', 'ppm:-');
    const imgs = splitPpm(magick(args, `${chunk.length} lines`));
    if (imgs.length !== chunk.length) throw new Error(`convert rendered ${imgs.length} images for ${chunk.length} lines`);
    chunk.forEach((l, j) => out.push({ ...l, img: imgs[j] }));
  }
  return out;
}

/** rec input [1, 3, 48, W]: BGR planes, (x/255 - 0.5) / 0.5. */
export function recInput(img) {
  const { width: w, height: h, rgb } = img;
  const x = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) x[c * h * w + i] = (rgb[3 * i + (2 - c)] / 255 - 0.5) / 0.5;
  return new ort.Tensor('float32', x, [1, 3, h, w]);
}

/** The CTC alphabet: index 0 blank, then the keys file's lines, then ' '. */
export function ctcAlphabet(keysFile) {
  return ['blank', ...readFileSync(keysFile, 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l !== ''), ' '];
}

/** Greedy CTC decode of [1, T, C] scores: argmax per step, repeats merged, blanks dropped. */
export function ctcGreedy(scores, alphabet) {
  const [, t, c] = scores.dims;
  const d = scores.data;
  let out = '';
  let prev = -1;
  for (let i = 0; i < t; i++) {
    let best = 0;
    for (let j = 1; j < c; j++) if (d[i * c + j] > d[i * c + best]) best = j;
    if (best !== 0 && best !== prev) out += alphabet[best];
    prev = best;
  }
  return out;
}

/** Opens an onnxruntime-node session (path or bytes), 2 threads, no spinning. */
export function session(model) {
  return ort.InferenceSession.create(model, { intraOpNumThreads: 2, extra: { session: { 'intra_op.allow_spinning': '0' } }, logSeverityLevel: 3 });
}

/**
 * Exact-match rate of a rec model on rendered lines: `{ exact, total, rate, misses: [{ text, read }] }`.
 * @param model path or ONNX bytes
 */
export async function recExactMatch(model, rendered, alphabet) {
  const s = await session(model);
  const misses = [];
  for (const l of rendered) {
    const y = await s.run({ [s.inputNames[0]]: recInput(l.img) });
    const read = ctcGreedy(y[s.outputNames[0]], alphabet);
    if (read !== l.text) misses.push({ text: l.text, read });
  }
  await s.release();
  const total = rendered.length;
  return { exact: total - misses.length, total, rate: (total - misses.length) / total, misses };
}

/** A text page, `width` × `height` (multiples of 32), `rows` lines of mixed fonts and sizes. RGB bytes. */
export function renderPage(seed, width = 640, height = 480, rows = 8) {
  const lines = textLines(rows, seed);
  const args = ['-size', `${width}x${height}`, 'xc:white', '-fill', 'black'];
  lines.forEach((l, i) => {
    const pt = 14 + ((seed * 7 + i * 5) % 22);
    const x = 10 + ((seed * 13 + i * 29) % 120);
    const y = Math.round(((i + 0.8) * height) / rows);
    args.push('-font', l.font, '-pointsize', String(pt), '-annotate', `+${x}+${y}`, l.text);
  });
  return { width, height, rgb: magick([...args, '-depth', '8', 'rgb:-'], `page ${seed}`) };
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** det input [1, 3, H, W]: BGR planes normalised with ImageNet mean/std in that order (PaddleOCR's NormalizeImage). */
export function detInput(img) {
  const { width: w, height: h, rgb } = img;
  const x = new Float32Array(3 * h * w);
  for (let i = 0; i < h * w; i++) for (let c = 0; c < 3; c++) x[c * h * w + i] = (rgb[3 * i + (2 - c)] / 255 - MEAN[c]) / STD[c];
  return new ort.Tensor('float32', x, [1, 3, h, w]);
}

/** Seeded uniform [-2, 2] det input (random images), [1, 3, h, w]. */
export function randomDetInput(seed, h = 320, w = 320) {
  let s = seed >>> 0;
  const x = new Float32Array(3 * h * w);
  for (let i = 0; i < x.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 4 - 2;
  }
  return new ort.Tensor('float32', x, [1, 3, h, w]);
}

/**
 * Probability maps of a reference and a candidate det model on the same inputs: the largest |Δ|, and the share of
 * pixels on which the maps binarised at `threshold` agree, with the text-pixel count of the reference.
 */
export async function detAgreement(refModel, model, inputs, threshold = 0.3) {
  const a = await session(refModel);
  const b = await session(model);
  let maxAbs = 0;
  let same = 0;
  let total = 0;
  let text = 0;
  for (const x of inputs) {
    const pa = (await a.run({ [a.inputNames[0]]: x }))[a.outputNames[0]].data;
    const pb = (await b.run({ [b.inputNames[0]]: x }))[b.outputNames[0]].data;
    for (let i = 0; i < pa.length; i++) {
      const d = Math.abs(pa[i] - pb[i]);
      if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
      if (pa[i] > threshold === pb[i] > threshold) same++;
      if (pa[i] > threshold) text++;
    }
    total += pa.length;
  }
  await a.release();
  await b.release();
  return { maxAbs, agreement: same / total, textPixels: text, pixels: total };
}
