import { readFileSync, writeFileSync } from 'node:fs';
import { float32ToFloat16, McError, type Tensor, toFloat32 } from '@mc/ir';
import { zipSync } from 'fflate';
import type { TfjsModelJson, TfjsQuantizationJson, TfjsWeightSpecJson } from './keras-format.js';
import type { KerasGraph } from './keras-graph.js';
import { kerasToIr } from './to-ir.js';
import { graphToConfig } from './write-config.js';
import { writeKeras3Weights } from './write-h5.js';

/** TF.js weight storage: float32, or one of the quantized weight specs of the TF.js format. */
export type TfjsQuantize = 'none' | 'uint8' | 'uint16' | 'float16';

/** Writes a Keras 3 `.keras` zip (metadata.json, config.json, model.weights.h5) to `path`. @internal */
export async function writeKerasZip(g: KerasGraph, path: string, file: string): Promise<void> {
  const weightsPath = `${path}.weights.h5`;
  await writeKeras3Weights(g, weightsPath, file);
  const weights = readFileSync(weightsPath);
  const enc = new TextEncoder();
  const version = g.kerasVersion?.startsWith('3') === true ? g.kerasVersion : '3.5.0';
  const meta = { keras_version: version, date_saved: new Date().toISOString().replace('T', '@').slice(0, 19) };
  const zip = zipSync(
    {
      'metadata.json': enc.encode(JSON.stringify(meta)),
      'config.json': enc.encode(JSON.stringify(graphToConfig(g, 'keras3', kerasToIr(g, file, 'keras').shapes))),
      'model.weights.h5': new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
    },
    { level: 0 },
  );
  writeFileSync(path, zip);
}

/**
 * Encodes one weight for TF.js. Affine uint8/uint16 (`value = q·scale + min`, the TF.js quantization spec) or
 * float16; a weight read from a quantized TF.js file keeps its original spec unless another is asked for.
 */
function encodeWeight(t: Tensor, name: string, quantize: TfjsQuantize): { spec: TfjsWeightSpecJson; bytes: Uint8Array } {
  const dims = [...t.dims];
  if (t.dtype === 'int32' || t.dtype === 'int64') {
    const d = Int32Array.from(toFloat32(t));
    return { spec: { name, shape: dims, dtype: 'int32' }, bytes: new Uint8Array(d.buffer) };
  }
  const x = toFloat32(t);
  const kept = (t.info.extra as { tfjsQuantization?: TfjsQuantizationJson } | undefined)?.tfjsQuantization;
  const q = quantize === 'none' ? (kept?.dtype ?? 'none') : quantize;
  if (q === 'none') return { spec: { name, shape: dims, dtype: 'float32' }, bytes: new Uint8Array(new Float32Array(x).buffer) };
  if (q === 'float16') {
    const h = float32ToFloat16(x);
    return { spec: { name, shape: dims, dtype: 'float32', quantization: { dtype: 'float16' } }, bytes: new Uint8Array(h.buffer) };
  }
  const levels = q === 'uint8' ? 255 : 65535;
  let min: number;
  let scale: number;
  if (kept !== undefined && kept.dtype === q && kept.scale !== undefined && kept.min !== undefined) {
    ({ min, scale } = kept as { min: number; scale: number });
  } else {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of x) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    if (!Number.isFinite(lo)) lo = hi = 0;
    // tfjs-converter `_get_affine_quantization_range`: the range holds 0, and 0 lands exactly on a code.
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
    scale = hi === lo ? 1 : (hi - lo) / levels;
    const zero = Math.round(Math.min(levels, Math.max(0, -lo / scale)));
    min = -zero * scale;
  }
  const out = q === 'uint8' ? new Uint8Array(x.length) : new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.min(levels, Math.max(0, Math.round((x[i]! - min) / scale)));
  return {
    spec: { name, shape: dims, dtype: 'float32', quantization: { dtype: q, scale, min, original_dtype: 'float32' } },
    bytes: new Uint8Array(out.buffer),
  };
}

/**
 * Writes a TF.js layers model: `model.json` at `jsonPath` content returned, one shard's bytes returned; the caller
 * places both atomically.
 * @internal
 */
export function tfjsFiles(g: KerasGraph, shardName: string, quantize: TfjsQuantize): { json: string; shard: Uint8Array } {
  const specs: TfjsWeightSpecJson[] = [];
  const parts: Uint8Array[] = [];
  for (const l of g.layers) {
    l.weights.forEach((t, i) => {
      const wname = (l.weightNames[i] ?? `w${i}`).replace(/:0$/, '').split('/').pop()!;
      const { spec, bytes } = encodeWeight(t, `${l.name}/${wname}`, quantize);
      specs.push(spec);
      parts.push(bytes);
    });
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const shard = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    shard.set(p, off);
    off += p.length;
  }
  const json: TfjsModelJson = {
    format: 'layers-model',
    generatedBy: 'mc io-keras',
    convertedBy: null,
    modelTopology: {
      keras_version: g.kerasVersion ?? '2.15.0',
      backend: g.backend ?? 'tensorflow',
      model_config: graphToConfig(g, 'tfjs'),
    },
    weightsManifest: [{ paths: [shardName], weights: specs }],
  };
  if (specs.length === 0) json.weightsManifest = [];
  return { json: JSON.stringify(json), shard };
}

/** @internal */
export function unsupported(file: string, what: string): McError {
  return new McError('E_OPTION', `${what} (writing ${file})`, { context: { file } });
}
