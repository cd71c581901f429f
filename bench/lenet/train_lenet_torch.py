#!/usr/bin/python3
"""LeNet-300-100 trained by PyTorch, as a third party would, and exported with torch.onnx.

A fixture for the Deep Compression check on a model that mc did not train: a plain torch script (nn.Sequential with
Flatten and Linear layers, Adam, pixels / 255 without mean/std normalisation, NCHW input [N, 1, 28, 28]) and the
export torch itself makes (Flatten -> Gemm(transB=1) + Relu, dynamic batch). Run with Debian's python3-torch:

    /usr/bin/python3 bench/lenet/train_lenet_torch.py --mnist ../shared/data/mnist --out DIR [--epochs 8] [--seed 0]

Writes DIR/lenet-300-100.onnx and DIR/meta.json (torch version, epochs, seconds, top-1 on the 10,000 test images in
torch). Seeded; the caller caches DIR (tests and the bench keep it under ~/.cache/mc/lenet-torch/<hash>/).
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    magic, = struct.unpack('>I', data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack('>' + 'I' * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(mnist, split):
    prefix = 'train' if split == 'train' else 't10k'
    x = read_idx(os.path.join(mnist, f'{prefix}-images-idx3-ubyte.gz')).astype(np.float32) / 255.0
    y = read_idx(os.path.join(mnist, f'{prefix}-labels-idx1-ubyte.gz')).astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--mnist', required=True, help='folder with the MNIST IDX .gz files')
    ap.add_argument('--out', required=True, help='output folder')
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    xtr, ytr = load(a.mnist, 'train')
    xte, yte = load(a.mnist, 'test')
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 300), nn.ReLU(),
        nn.Linear(300, 100), nn.ReLU(),
        nn.Linear(100, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(xtr.shape[0])
        total = 0.0
        for i in range(0, xtr.shape[0], 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.item() * idx.shape[0]
        sched.step()
        print(f'epoch {epoch + 1}/{a.epochs}: loss {total / xtr.shape[0]:.4f} ({time.time() - t0:.0f} s)', file=sys.stderr)
    seconds = time.time() - t0
    model.eval()
    with torch.no_grad():
        top1 = (model(xte).argmax(1) == yte).float().mean().item()

    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, 'lenet-300-100.onnx')
    tmp = onnx_path + f'.{os.getpid()}.tmp'
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
    os.replace(tmp, onnx_path)
    meta = {'torch': torch.__version__, 'epochs': a.epochs, 'seed': a.seed, 'seconds': round(seconds, 1), 'top1': top1}
    with open(os.path.join(a.out, 'meta.json.tmp'), 'w') as f:
        json.dump(meta, f)
    os.replace(os.path.join(a.out, 'meta.json.tmp'), os.path.join(a.out, 'meta.json'))
    print(json.dumps(meta))


if __name__ == '__main__':
    main()
