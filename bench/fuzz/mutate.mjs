// Seeded mutations of model files: byte-level (truncate, flip, splice) and structure-aware (JSON type confusion in
// TF.js model.json / .keras config.json / the h5 model_config attribute; protobuf field edits in ONNX).
// Everything is a pure function of (bytes, rng), so a case is reproduced from its seed number alone.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fromIoOnnx = createRequire(path.join(root, 'packages/io-onnx/package.json'));
const fromIoKeras = createRequire(path.join(root, 'packages/io-keras/package.json'));
const protobuf = fromIoOnnx('protobufjs');
const { unzipSync, zipSync } = fromIoKeras('fflate');

/** mulberry32: a small seeded PRNG; `int(n)` in [0, n), `pick(list)`, `chance(p)`. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Byte level

/** Cuts the file at a random point (often near the end, where readers trust lengths they already read). */
export function truncate(bytes, r) {
  const n = r.chance(0.5) ? r.int(bytes.length) : bytes.length - 1 - r.int(Math.min(64, bytes.length));
  return bytes.slice(0, Math.max(0, n));
}

/** Flips 1..8 bytes: single bits, or whole bytes set to 0x00 / 0xff / random. */
export function flip(bytes, r) {
  const out = bytes.slice();
  const k = 1 + r.int(8);
  for (let i = 0; i < k && out.length > 0; i++) {
    const at = r.int(out.length);
    const how = r.int(4);
    out[at] = how === 0 ? out[at] ^ (1 << r.int(8)) : how === 1 ? 0 : how === 2 ? 0xff : r.int(256);
  }
  return out;
}

/** Copies a random chunk of the file over another place, or inserts / deletes a chunk. */
export function splice(bytes, r) {
  if (bytes.length < 4) return flip(bytes, r);
  const len = 1 + r.int(Math.min(256, bytes.length >> 1));
  const from = r.int(bytes.length - len);
  const to = r.int(bytes.length - len);
  const chunk = bytes.slice(from, from + len);
  const how = r.int(3);
  if (how === 0) {
    const out = bytes.slice();
    out.set(chunk, to);
    return out;
  }
  if (how === 1) return concat(bytes.subarray(0, to), chunk, bytes.subarray(to));
  return concat(bytes.subarray(0, to), bytes.subarray(to + len));
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One random byte-level mutation. */
export function mutateBytes(bytes, r) {
  return [truncate, flip, splice][r.int(3)](bytes, r);
}

// ---------------------------------------------------------------------------------------------------------------
// JSON type confusion

const CONFUSE = [1.5, -1, 0, 2 ** 53, 1e308, true, false, null, 'str', '', [], {}, [[1, 2]], [1.5], [-3], [null], { a: 1 }, [true], 'relu'];

/** Every (container, key) pair in a JSON tree, with its JSON path. */
function slots(v, p = '', out = []) {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([v, i, `${p}[${i}]`]), slots(x, `${p}[${i}]`, out)));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) out.push([v, k, p ? `${p}.${k}` : k]), slots(v[k], p ? `${p}.${k}` : k, out);
  return out;
}

/**
 * Changes one field of a parsed JSON document: a value of the wrong type, a deleted key, a duplicated or dropped
 * array element. Fields named like shapes, dtypes, names and class names are picked more often (they are what readers
 * trust). Returns the JSON path that was changed.
 */
export function confuseJson(doc, r) {
  const all = slots(doc);
  if (all.length === 0) return '(empty)';
  const hot = all.filter(([, k, p]) => /shape|dtype|class_name|name|paths|weights|inbound|layers|config|units|filters|kernel_size|strides|quantization|input_layers|output_layers/.test(String(k)) || /shape/.test(p));
  const [obj, key, p] = hot.length > 0 && r.chance(0.7) ? r.pick(hot) : r.pick(all);
  const how = r.int(10);
  if (how === 0 && !Array.isArray(obj)) delete obj[key];
  else if (how === 1 && Array.isArray(obj)) obj.splice(key, 1);
  else if (how === 2 && Array.isArray(obj)) obj.splice(key, 0, structuredClone(obj[key]));
  else obj[key] = structuredClone(r.pick(CONFUSE));
  return p;
}

/** Parses JSON text, confuses one field, writes it back (compact). */
export function mutateJsonText(text, r) {
  let doc;
  try {
    doc = JSON.parse(text);
  } catch {
    return { text, path: '(not JSON)' };
  }
  const p = confuseJson(doc, r);
  return { text: JSON.stringify(doc), path: p };
}

/**
 * Mutates the JSON held in an h5 string attribute (`model_config`) in place: the new JSON is written compact and padded
 * with spaces to the old byte length, so the HDF5 structure stays valid and only the config changes.
 */
export function mutateH5Config(bytes, r) {
  const buf = Buffer.from(bytes);
  const start = buf.indexOf('{"class_name"');
  if (start < 0) return { bytes: flip(bytes, r), path: '(no model_config found: bytes flipped)' };
  // The attribute's JSON ends where its braces balance.
  let depth = 0;
  let end = -1;
  let inStr = false;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i];
    if (inStr) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inStr = false;
    } else if (c === 0x22) inStr = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) {
        end = i + 1;
        break;
      }
    }
  }
  if (end < 0) return { bytes: flip(bytes, r), path: '(unterminated model_config: bytes flipped)' };
  const oldText = buf.subarray(start, end).toString('utf8');
  for (let attempt = 0; attempt < 8; attempt++) {
    const { text, path: p } = mutateJsonText(oldText, r);
    const n = Buffer.byteLength(text);
    if (n <= end - start) {
      const out = Buffer.from(buf);
      out.write(text.padEnd(text.length + (end - start - n), ' '), start, 'utf8');
      return { bytes: new Uint8Array(out), path: `model_config.${p}` };
    }
  }
  return { bytes: flip(bytes, r), path: '(mutated model_config too long: bytes flipped)' };
}

/** Mutates `config.json` (or `metadata.json`) inside a `.keras` zip and zips it again. */
export function mutateKerasZip(bytes, r) {
  let entries;
  try {
    entries = unzipSync(bytes);
  } catch {
    return { bytes: flip(bytes, r), path: '(not a zip)' };
  }
  const name = entries['metadata.json'] !== undefined && r.chance(0.1) ? 'metadata.json' : 'config.json';
  if (entries[name] === undefined) return { bytes: flip(bytes, r), path: `(no ${name})` };
  const { text, path: p } = mutateJsonText(new TextDecoder().decode(entries[name]), r);
  entries[name] = new TextEncoder().encode(text);
  if (entries['model.weights.h5'] !== undefined && r.chance(0.2)) entries['model.weights.h5'] = mutateBytes(entries['model.weights.h5'], r);
  return { bytes: zipSync(entries, { level: 0 }), path: `${name}:${p}` };
}

// ---------------------------------------------------------------------------------------------------------------
// ONNX protobuf field edits

let onnxTypes;
/** protobufjs' ModelProto type from mc's schema, with the spec's snake_case field names (`data_type`, `op_type`). */
export function onnxModelType() {
  if (onnxTypes === undefined) {
    const pb = new protobuf.Root();
    protobuf.parse(readFileSync(path.join(root, 'packages/io-onnx/schema/onnx.proto'), 'utf8'), pb, { keepCase: true });
    onnxTypes = { Model: pb.lookupType('onnx.ModelProto') };
  }
  return onnxTypes.Model;
}
function onnx() {
  return { Model: onnxModelType() };
}

const INTS = [-1, -7, 0, 1, 3, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, 1e15, 65535];

/** Every set field of a decoded message tree: [owner, key, field, index?]. */
function fieldSlots(msg, type, out, p = type.name, depth = 0) {
  if (depth > 40) return out;
  for (const f of type.fieldsArray) {
    const v = msg[f.name];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    out.push([msg, f.name, f, `${p}.${f.name}`]);
    if (f.resolvedType instanceof protobuf.Type) {
      const list = f.repeated ? v : [v];
      list.forEach((m, i) => fieldSlots(m, f.resolvedType, out, f.repeated ? `${p}.${f.name}[${i}]` : `${p}.${f.name}`, depth + 1));
    }
  }
  return out;
}

function wrongValue(f, r, names) {
  if (f.resolvedType instanceof protobuf.Enum) return r.pick([-1, 0, 99, 1, 16, 21, 23]);
  switch (f.type) {
    case 'string':
      return r.pick(['', 'x', ...names]);
    case 'bytes':
      return new Uint8Array(r.int(9)).map(() => r.int(256));
    case 'float':
    case 'double':
      return r.pick([NaN, Infinity, -0, 1e38, -1]);
    case 'int64':
    case 'uint64':
    case 'int32':
    case 'uint32':
      return r.pick(INTS);
    default:
      return undefined;
  }
}

/**
 * Decodes an ONNX model, edits one field (a dimension negative or huge, a wrong enum such as an attribute or
 * tensor type, a name pointing elsewhere, a repeated field cleared, shortened or duplicated, a message removed) and
 * encodes it again. Undecodable bytes get a byte-level mutation instead.
 */
export function mutateOnnx(bytes, r) {
  const { Model } = onnx();
  let msg;
  try {
    msg = Model.decode(bytes);
  } catch {
    return { bytes: mutateBytes(bytes, r), path: '(undecodable: bytes mutated)' };
  }
  const all = fieldSlots(msg, Model, []);
  const names = [...new Set(all.filter(([, , f]) => f.name === 'name' || f.name === 'input' || f.name === 'output').flatMap(([o, k]) => (Array.isArray(o[k]) ? o[k] : [o[k]])))].slice(0, 50);
  const edits = 1 + (r.chance(0.3) ? r.int(3) : 0);
  const paths = [];
  for (let e = 0; e < edits && all.length > 0; e++) {
    const hot = all.filter(([, , f]) => /dims|type|data_type|elem_type|dim_value|^i$|^ints$|input|output|raw_data|op_type|version/.test(f.name));
    const [owner, key, f, fp] = hot.length > 0 && r.chance(0.7) ? r.pick(hot) : r.pick(all);
    paths.push(fp);
    const v = owner[key];
    if (f.repeated) {
      const how = r.int(4);
      if (how === 0) owner[key] = [];
      else if (how === 1) v.splice(r.int(v.length), 1);
      else if (how === 2) v.push(v[r.int(v.length)]);
      else {
        const w = wrongValue(f, r, names);
        if (w !== undefined) v[r.int(v.length)] = w;
        else v.splice(r.int(v.length), 1);
      }
    } else {
      const w = wrongValue(f, r, names);
      if (w === undefined || r.chance(0.15)) delete owner[key];
      else owner[key] = w;
    }
  }
  try {
    return { bytes: Model.encode(msg).finish(), path: paths.join(',') };
  } catch {
    return { bytes: mutateBytes(bytes, r), path: '(unencodable edit: bytes mutated)' };
  }
}
