import { existsSync } from 'node:fs';
import type { Model } from '@mc/ir';
import { loadOnnx } from '@mc/io-onnx';
import { describe, expect, it } from 'vitest';
import { factorize } from '../src/index.js';
import { gaussian } from '../src/kernels/random.js';
import { l1RelError, selectTuckerRanks, TuckerErrorOracle } from '../src/kernels/rank-select.js';
import { searchTuckerRanks } from '../src/kernels/tucker-search.js';
import { reconstruct, tucker2 } from '../src/kernels/tucker2.js';
import { sharedAbsent, sharedPath, skipNote } from '../../../test-support/shared.js';

/** A kernel [Cout, Cin, S] whose core falls off as 1/(1 + a + b)^p (p = 0: Gaussian, a flat spectrum). */
function kernel(cout: number, cin: number, s: number, seed: number, p: number): Float64Array {
  const w0 = gaussian(cout * cin * s, seed);
  if (p === 0) return w0;
  const t0 = tucker2(w0, cout, cin, s);
  const core = t0.core.map((v, i) => v / (1 + Math.floor(i / (t0.rankIn * s)) + (Math.floor(i / s) % t0.rankIn)) ** p);
  return reconstruct({ ...t0, core }, cin, cout);
}

const BOUNDS = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9];

describe("Tucker-2 rank search: the frontier walk gives the exhaustive search's pair, reading the error off a moved residual", () => {
  // [Cout, Cin, S, seed, decay]: square, wide, tall, 1x1 widening (Cout > Cin·S keeps only Cin·S output directions),
  // one input channel, flat and decaying spectra.
  const shapes = [
    [12, 8, 9, 1, 1],
    [16, 6, 9, 2, 0],
    [9, 14, 3, 3, 1.5],
    [20, 20, 1, 4, 1],
    [32, 1, 9, 5, 1],
    [48, 12, 1, 6, 0.5],
    [24, 24, 9, 7, 0],
    [24, 16, 9, 8, 2],
    [6, 40, 1, 9, 1],
  ] as const;
  for (const [cout, cin, s, seed, p] of shapes) {
    it(`${cout}x${cin}x${s} (seed ${seed}, decay ${p}): same ranks as selectTuckerRanks at every bound; error = a fresh reconstruction's`, () => {
      const w = kernel(cout, cin, s, seed, p);
      const t = tucker2(w, cout, cin, s);
      const oracle = new TuckerErrorOracle(w, t);
      for (const bound of BOUNDS) {
        const ref = selectTuckerRanks(oracle, bound);
        const got = searchTuckerRanks(w, t, bound, { method: 'walk' });
        expect(got === undefined ? undefined : [got.kIn, got.kOut, got.params], `bound ${bound}`).toEqual(
          ref === undefined ? undefined : [ref.kIn, ref.kOut, ref.params],
        );
        if (got !== undefined) {
          expect(Math.abs(got.error - l1RelError(w, reconstruct(t, got.kIn, got.kOut)))).toBeLessThan(1e-9);
          expect(got.error).toBeLessThanOrEqual(bound);
        }
      }
    });
  }
});

describe('Tucker-2 rank search guided by the core energies (large layers): meets the bound, within 3% of the cheapest pair', () => {
  for (const [cout, cin, s, seed, p] of [
    [40, 32, 9, 11, 0],
    [48, 40, 9, 12, 1],
    [64, 24, 9, 13, 0.5],
    [96, 64, 1, 14, 1],
  ] as const) {
    it(`${cout}x${cin}x${s} (seed ${seed}, decay ${p})`, () => {
      const w = kernel(cout, cin, s, seed, p);
      const t = tucker2(w, cout, cin, s);
      for (const bound of [0.1, 0.3, 0.5, 0.7]) {
        const exact = searchTuckerRanks(w, t, bound, { method: 'walk' });
        const got = searchTuckerRanks(w, t, bound, { method: 'guided' });
        if (exact === undefined) {
          expect(got, `bound ${bound}`).toBeUndefined();
          continue;
        }
        expect(got, `bound ${bound}`).toBeDefined();
        const actual = l1RelError(w, reconstruct(t, got!.kIn, got!.kOut));
        expect(Math.abs(got!.error - actual)).toBeLessThan(1e-9);
        expect(actual).toBeLessThanOrEqual(bound);
        expect(got!.params / exact.params, `bound ${bound}: ${got!.kIn},${got!.kOut} vs ${exact.kIn},${exact.kOut}`).toBeLessThanOrEqual(
          1.03,
        );
      }
    });
  }
});

// Ranks chosen by the exhaustive search (staircase + binary search, one reconstruction per probe) before the
// spectrum-following search replaced it; `factorize` must keep choosing them.
const shared = sharedPath('models/');
const BEFORE: Record<string, Record<string, Record<string, string>>> = {
  'onnx/mnist-cntk-opset8.onnx': {
    0.1: { Convolution28: 'kept', Convolution110: 'kept', Times212: 'kept' },
    0.3: { Convolution28: '1,5', Convolution110: '6,16', Times212: '8' },
    0.5: { Convolution28: '1,3', Convolution110: '5,11', Times212: '6' },
    0.7: { Convolution28: '1,2', Convolution110: '4,7', Times212: '4' },
  },
  'keras/moonflower/mnist_convnet.h5': {
    0.1: { 'conv2d/Conv': 'kept', 'conv2d_1/Conv': '29,64', 'dense/MatMul': 'kept' },
    0.3: { 'conv2d/Conv': '1,5', 'conv2d_1/Conv': '16,64', 'dense/MatMul': '9' },
    0.5: { 'conv2d/Conv': '1,3', 'conv2d_1/Conv': '8,24', 'dense/MatMul': '7' },
    0.7: { 'conv2d/Conv': '1,2', 'conv2d_1/Conv': '5,10', 'dense/MatMul': '4' },
  },
  'keras/tensorspace/lenet_mnist.h5': {
    0.1: { 'Conv2D_1/Conv': 'kept', 'Conv2D_2/Conv': 'kept', 'Dense_1/MatMul': 'kept', 'Dense_2/MatMul': 'kept', 'Softmax/MatMul': 'kept' },
    0.3: { 'Conv2D_1/Conv': '1,4', 'Conv2D_2/Conv': '5,16', 'Dense_1/MatMul': '69', 'Dense_2/MatMul': '45', 'Softmax/MatMul': 'kept' },
    0.5: { 'Conv2D_1/Conv': '1,3', 'Conv2D_2/Conv': '6,9', 'Dense_1/MatMul': '37', 'Dense_2/MatMul': '25', 'Softmax/MatMul': '6' },
    0.7: { 'Conv2D_1/Conv': '1,2', 'Conv2D_2/Conv': '2,16', 'Dense_1/MatMul': '16', 'Dense_2/MatMul': '11', 'Softmax/MatMul': '4' },
  },
  'keras/mlperf-tiny/resnet8_cifar10.h5': {
    0.3: {
      'conv2d/Conv': '3,10',
      'conv2d_1/Conv': '12,16',
      'conv2d_2/Conv': '13,16',
      'conv2d_3/Conv': '13,32',
      'conv2d_4/Conv': '22,32',
      'conv2d_5/Conv': '9,32',
      'conv2d_6/Conv': '32,44',
      'conv2d_7/Conv': '51,64',
      'conv2d_8/Conv': '15,64',
      'dense/MatMul': '8',
    },
    0.7: {
      'conv2d/Conv': '3,4',
      'conv2d_1/Conv': '6,9',
      'conv2d_2/Conv': '7,10',
      'conv2d_3/Conv': '8,15',
      'conv2d_4/Conv': '10,15',
      'conv2d_5/Conv': '4,32',
      'conv2d_6/Conv': '19,18',
      'conv2d_7/Conv': '64,20',
      'conv2d_8/Conv': '4,64',
      'dense/MatMul': '4',
    },
  },
};

async function load(file: string): Promise<Model> {
  if (file.endsWith('.onnx')) return loadOnnx(file);
  const keras = (await import('@mc/io-keras')) as { loadKeras(path: string): Promise<Model> };
  return keras.loadKeras(file);
}

describe('factorize({error}) on the real models in ../shared/models keeps the ranks of the exhaustive search', () => {
  for (const [rel, byBound] of Object.entries(BEFORE)) {
    it.skipIf(!existsSync(shared + rel))(`${rel}${skipNote(sharedAbsent(`models/${rel}`))}`, async () => {
      const model = await load(shared + rel);
      for (const [bound, want] of Object.entries(byBound)) {
        const { report } = await factorize(model, { error: Number(bound) });
        const got = Object.fromEntries(report.nodes.map((n) => [n.node, n.replaced ? n.ranks.join(',') : 'kept']));
        expect(got, `error ${bound}`).toEqual(want);
        for (const n of report.nodes.filter((x) => x.replaced)) expect(n.weightError).toBeLessThanOrEqual(Number(bound));
      }
    });
  }
});
