// The BLAS behind the Python baselines. Baselines must be the strongest available here: Debian's numpy and torch use
// whatever libblas.so.3 the BLAS alternative points to, which is the reference BLAS (~16× slower matmul) unless
// OpenBLAS is installed. `ensureOpenBlas()` installs Debian's libopenblas0-pthread when it can (root with apt-get),
// and `baselineBlas()` names the libraries a baseline process actually loaded, for the tables.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const PY = '/usr/bin/python3';
const OPENBLAS = '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3';

/**
 * Installs OpenBLAS for numpy/torch when it is absent and this process may (root, apt-get present). Returns a line
 * for the bench's log: what was done, or why the baselines keep the BLAS they have.
 */
export function ensureOpenBlas() {
  if (existsSync(OPENBLAS)) return 'OpenBLAS present';
  if (process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) {
    return 'OpenBLAS absent and not installable here (needs root and apt-get): baselines run on the BLAS they find';
  }
  const install = () => spawnSync('/usr/bin/apt-get', ['install', '-y', '-qq', 'libopenblas0-pthread'], { encoding: 'utf8' });
  let r = install();
  if (r.status !== 0) {
    spawnSync('/usr/bin/apt-get', ['update', '-qq'], { encoding: 'utf8' });
    r = install();
  }
  return r.status === 0 && existsSync(OPENBLAS)
    ? 'installed libopenblas0-pthread for the Python baselines'
    : `apt-get install libopenblas0-pthread failed (exit ${r.status}): baselines run on the BLAS they find`;
}

const PROBE = `
import os, sys, json
out = {}
try:
    import numpy
    numpy.dot(numpy.ones((64, 64)), numpy.ones((64, 64)))
    out['numpy'] = numpy.__version__
except Exception:
    pass
if 'torch' in sys.argv[1:]:
    try:
        import torch
        torch.mm(torch.ones(64, 64), torch.ones(64, 64))
        torch.nn.functional.conv2d(torch.ones(1, 1, 8, 8), torch.ones(1, 1, 3, 3))
        out['torch'] = torch.__version__
        out['mkldnn'] = bool(torch.backends.mkldnn.is_available())
    except Exception:
        pass
libs = set()
for line in open('/proc/self/maps'):
    p = line.split()[-1]
    if p.startswith('/') and any(k in p.lower() for k in ('blas', 'lapack', 'dnnl', 'mkl')):
        libs.add(os.path.realpath(p))
out['libs'] = sorted(libs)
print(json.dumps(out))
`;

/** A short name for the BLAS among loaded library paths. */
function blasName(libs) {
  const open = libs.find((p) => /libopenblas[^/]*\.so/.test(p));
  if (open !== undefined) return `OpenBLAS ${/r(\d+\.\d+\.\d+)/.exec(open)?.[1] ?? ''}${open.includes('pthread') ? ' (pthread)' : ''}`.trim();
  if (libs.some((p) => /mkl/.test(p))) return 'MKL';
  if (libs.some((p) => /\/blas\/libblas\.so/.test(p))) return 'reference BLAS (Debian libblas3)';
  return 'unknown BLAS';
}

/**
 * What the Python baselines run on: `{ numpy, torch, text }` where `text` reads e.g. "numpy 1.24.2 on OpenBLAS
 * 0.3.21 (pthread); torch 1.13.0a0 on OpenBLAS 0.3.21 (pthread) + oneDNN (libdnnl 2.6)". Undefined fields where
 * python3 or a package is missing.
 */
export function baselineBlas({ torch = false } = {}) {
  const r = spawnSync(PY, ['-c', PROBE, ...(torch ? ['torch'] : [])], { encoding: 'utf8' });
  if (r.status !== 0) return { text: `no ${PY} baseline (${(r.stderr || r.error?.message || '').trim().split('\n').at(-1)})` };
  const o = JSON.parse(r.stdout.trim().split('\n').at(-1));
  const blas = blasName(o.libs);
  const dnnl = o.libs.map((p) => /libdnnl\.so\.([\d.]+)/.exec(p)?.[1]).find((v) => v !== undefined);
  const parts = [];
  if (o.numpy) parts.push(`numpy ${o.numpy} on ${blas}`);
  if (o.torch) parts.push(`torch ${o.torch} on ${blas}${o.mkldnn && dnnl !== undefined ? ` + oneDNN (libdnnl ${dnnl})` : ''}`);
  return { numpy: o.numpy, torch: o.torch, blas, text: parts.join('; ') || 'no numpy/torch' };
}

// `node bench/blas.mjs` installs OpenBLAS where it can and prints what the baselines run on.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${ensureOpenBlas()}\n${baselineBlas({ torch: true }).text}\n`);
}
