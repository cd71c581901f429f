import { decodeModelProto } from '../src/proto/codec.js';

/** A canonical JSON form of a decoded message (int64 as strings, bytes as hex). */
export function canonical(bytes: Uint8Array): string {
  return JSON.stringify(decodeModelProto(bytes), (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
    if (typeof v === 'object' && v !== null && 'low' in v && 'high' in v) {
      const l = v as { low: number; high: number };
      return ((BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0)).toString();
    }
    return v;
  });
}

/** The first differing line of two canonical forms (pretty-printed), for failure messages. */
export function firstDiff(a: Uint8Array, b: Uint8Array): string {
  const x = JSON.stringify(JSON.parse(canonical(a)), null, 1).split('\n');
  const y = JSON.stringify(JSON.parse(canonical(b)), null, 1).split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i])
      return `line ${i}:\n${x.slice(Math.max(0, i - 8), i + 3).join('\n')}\n---\n${y.slice(Math.max(0, i - 8), i + 3).join('\n')}`;
  }
  return 'no difference in decoded form';
}
