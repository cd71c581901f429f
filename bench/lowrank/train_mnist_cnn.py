"""Trains the Keras mnist_cnn architecture (Conv32-Conv64-MaxPool-Dropout-Dense128-Dropout-Dense10, 1,199,882 params)
in Debian python3-torch and exports it to ONNX. A bench fixture: run once by bench/lowrank.bench.mjs, cached.

usage: /usr/bin/python3 train_mnist_cnn.py <mnist dir> <out.onnx> [epochs]
"""
import gzip, json, sys, time
import numpy as np
import torch
import torch.nn as nn


def idx(path):
    with gzip.open(path, 'rb') as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class MnistCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))

    def forward(self, x):
        return self.head(self.features(x))


def main():
    mnist, out = sys.argv[1], sys.argv[2]
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.manual_seed(0)
    torch.set_num_threads(2)
    xtr = torch.from_numpy(idx(f'{mnist}/train-images-idx3-ubyte.gz').astype(np.float32)[:, None] / 255)
    ytr = torch.from_numpy(idx(f'{mnist}/train-labels-idx1-ubyte.gz').astype(np.int64))
    xte = torch.from_numpy(idx(f'{mnist}/t10k-images-idx3-ubyte.gz').astype(np.float32)[:, None] / 255)
    yte = torch.from_numpy(idx(f'{mnist}/t10k-labels-idx1-ubyte.gz').astype(np.int64))
    model = MnistCnn()
    assert sum(p.numel() for p in model.parameters()) == 1199882
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(xtr[b]), ytr[b])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = float((torch.cat([model(xte[i:i + 1000]).argmax(1) for i in range(0, 10000, 1000)]) == yte).float().mean())
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), out, input_names=['x'], output_names=['logits'],
                      dynamic_axes={'x': {0: 'batch'}, 'logits': {0: 'batch'}}, opset_version=13)
    print(json.dumps({'accuracy': acc, 'epochs': epochs, 'train_s': time.time() - t0}))


main()
