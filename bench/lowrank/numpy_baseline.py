"""numpy baselines for bench/lowrank.bench.mjs (Debian python3-numpy, reference BLAS/LAPACK).

  svd   <model.onnx> <runs>      the least work any implementation of `compress` must do: one exact SVD per Dense
                                 (MatMul/Gemm) weight, two mode SVDs (unfoldings along Cout and Cin) per Conv kernel
  make  <m> <n> <A.npy>         writes the rSVD test matrix
  rsvd  <A.npy> <k> <runs>       randomized SVD (Halko et al.: Gaussian sketch, oversample 10, 2 power iterations with
                                 QR re-orthonormalisation), float64 and float32, plus the optimal rank-k error
Prints one JSON line. Times are medians over `runs`, excluding interpreter start and file reading.
"""
import json, sys, time
import numpy as np


def median_time(fn, runs):
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), ts


def weights(path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = []
    for n in m.graph.node:
        if n.op_type in ('MatMul', 'Gemm') and len(n.input) > 1 and n.input[1] in inits and inits[n.input[1]].ndim == 2:
            out.append(('dense', inits[n.input[1]]))
        elif n.op_type == 'Conv' and n.input[1] in inits:
            out.append(('conv', inits[n.input[1]]))
    return out


def svd_work(layers):
    for kind, w in layers:
        if kind == 'dense':
            np.linalg.svd(w, full_matrices=False)
        else:
            co, ci = w.shape[0], w.shape[1]
            np.linalg.svd(w.reshape(co, -1), full_matrices=False)
            np.linalg.svd(np.moveaxis(w, 1, 0).reshape(ci, -1), full_matrices=False)


def rsvd(a, k, p=10, q=2, seed=0):
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((a.shape[1], k + p)).astype(a.dtype)
    y, _ = np.linalg.qr(a @ omega)
    for _ in range(q):
        z, _ = np.linalg.qr(a.T @ y)
        y, _ = np.linalg.qr(a @ z)
    b = y.T @ a
    ub, s, vt = np.linalg.svd(b, full_matrices=False)
    return (y @ ub)[:, :k], s[:k], vt[:k]


def main():
    mode = sys.argv[1]
    if mode == 'svd':
        layers = weights(sys.argv[2])
        runs = int(sys.argv[3])
        svd_work(layers)  # warm-up
        med, ts = median_time(lambda: svd_work(layers), runs)
        print(json.dumps({'median_s': med, 'runs_s': ts, 'layers': [[k, list(w.shape)] for k, w in layers], 'numpy': np.__version__}))
    elif mode == 'exact':
        # exact thin SVD (with vectors) of Gaussian matrices: exact <runs> <m>x<n> ...
        runs = int(sys.argv[2])
        res = {}
        for spec in sys.argv[3:]:
            m, n = map(int, spec.split('x'))
            a = np.random.default_rng(0).standard_normal((m, n))
            np.linalg.svd(a, full_matrices=False)
            res[spec] = median_time(lambda: np.linalg.svd(a, full_matrices=False), runs)[0]
        print(json.dumps(res))
    elif mode == 'make':
        # A = Q1·diag(1/(i+1))·Q2ᵀ with random orthonormal Q1 (m x n), Q2 (n x n): a decaying spectrum like trained
        # weights (the matrix MEASURED.md §5 used).
        m, n, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        rng = np.random.default_rng(1)
        q1, _ = np.linalg.qr(rng.standard_normal((m, n)))
        q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
        np.save(out, (q1 * (1.0 / (np.arange(n) + 1))) @ q2.T)
        print(json.dumps({'written': out}))
    elif mode == 'rsvd':
        a = np.load(sys.argv[2])
        k, runs = int(sys.argv[3]), int(sys.argv[4])
        res = {'numpy': np.__version__, 'shape': list(a.shape), 'k': k}
        s_all = np.linalg.svd(a, compute_uv=False)
        res['optimal_error'] = float(np.sqrt(np.sum(s_all[k:] ** 2) / np.sum(s_all ** 2)))
        for name, arr in (('f64', a.astype(np.float64)), ('f32', a.astype(np.float32))):
            rsvd(arr, k)
            med, ts = median_time(lambda: rsvd(arr, k), runs)
            u, s, vt = rsvd(arr, k)
            err = float(np.linalg.norm(arr - (u * s) @ vt) / np.linalg.norm(arr))
            res[name] = {'median_s': med, 'runs_s': ts, 'error': err}
        print(json.dumps(res))


main()
