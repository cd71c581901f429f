import { readFileSync, writeFileSync } from 'node:fs';
const io = await import('@mc/io-onnx'); const ir = await import('@mc/ir');
const b = new ir.ModelBuilder({ opset: 17 });
let x = b.input('x', 'float32', [1, 256]); let seed = 1;
for (let i = 0; i < 96; i++) { const dims = i % 2 === 0 ? [256, 1024] : [1024, 256]; const a = new Float32Array(256*1024); for (let j=0;j<a.length;j++){ seed=(seed*1103515245+12345)>>>0; a[j]=(seed/2**32-0.5)*0.1;} x = b.node('MatMul', [x, b.initializer('w'+i, new ir.Tensor('float32', dims, a))]); }
b.output(x, 'y');
writeFileSync('/tmp/io96.onnx', io.writeOnnx(b.build()));
const T = (f) => { const t0 = performance.now(); const r = f(); return [performance.now() - t0, r]; };
for (let k = 0; k < 5; k++) {
  const [tr, buf] = T(() => readFileSync('/tmp/io96.onnx'));
  const [td, m] = T(() => io.readOnnx(buf));
  const [te, out] = T(() => io.writeOnnx(m));
  const [tw] = T(() => writeFileSync('/tmp/io96b.onnx', out));
  console.log(`readFile ${tr.toFixed(0)} decode ${td.toFixed(0)} encode ${te.toFixed(0)} writeFile ${tw.toFixed(0)}`);
}
