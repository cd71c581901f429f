#!/usr/bin/env python3
"""Trains ResNet8 (MLPerf Tiny layout, any channel widths) on the whole CIFAR-10 with torch, as a second trainer to
set beside mc's: from fresh weights, or from an mc-pruned ONNX file (same layout: Keras ResNet8 through @mc/io-keras,
channels removed by `mc prune --channels`). Keras' 'same' padding of the stride-2 3x3 convolutions pads bottom/right
only; the model reproduces that, so an imported file gives the same top-1 as onnxruntime (checked at start).

  /usr/bin/python3 bench/prune/resnet8_torch.py CIFAR_BIN_DIR [--init pruned.onnx] [--widths 8,8,16,16,32,32]
      [--epochs 10] [--lr 0.05] [--batch 128] [--wd 5e-4] [--seed 1]

Recipe: SGD with Nesterov momentum 0.9, one-cycle schedule (15 % warm-up) to --lr, weight decay --wd, pad-4 random
crop and mirror, raw 0..255 pixels (the model's BatchNormalization after the first Conv normalises them), one thread.
Prints one JSON line per epoch (top-1 on all 10,000 test images in eval mode).
"""
import argparse, json, os, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('data'); ap.add_argument('--init'); ap.add_argument('--widths', default='8,8,16,16,32,32')
ap.add_argument('--epochs', type=int, default=10); ap.add_argument('--lr', type=float, default=0.05)
ap.add_argument('--batch', type=int, default=128); ap.add_argument('--wd', type=float, default=5e-4)
ap.add_argument('--seed', type=int, default=1)
a = ap.parse_args()
torch.set_num_threads(1); torch.manual_seed(a.seed); np.random.seed(a.seed)

def load(files):
    raw = np.concatenate([np.fromfile(os.path.join(a.data, f), dtype=np.uint8).reshape(-1, 3073) for f in files])
    return torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()), torch.from_numpy(raw[:, 0].astype(np.int64))
xtr, ytr = load([f'data_batch_{i}.bin' for i in range(1, 6)]); xte, yte = load(['test_batch.bin'])

# g1: stem + stack-1 output, i1: stack-1 inner, g2/i2, g3/i3 likewise (the dependency groups mc prunes).
g1, i1, g2, i2, g3, i3 = (int(w) for w in a.widths.split(','))
bn = lambda c: nn.BatchNorm2d(c, eps=1e-3)
class ResNet8(nn.Module):
    def __init__(s):
        super().__init__()
        s.c0, s.b0 = nn.Conv2d(3, g1, 3, padding=1), bn(g1)
        s.c1, s.b1 = nn.Conv2d(g1, i1, 3, padding=1), bn(i1)
        s.c2, s.b2 = nn.Conv2d(i1, g1, 3, padding=1), bn(g1)
        s.c3, s.b3 = nn.Conv2d(g1, i2, 3, stride=2), bn(i2)
        s.c4, s.b4 = nn.Conv2d(i2, g2, 3, padding=1), bn(g2)
        s.c5 = nn.Conv2d(g1, g2, 1, stride=2)
        s.c6, s.b5 = nn.Conv2d(g2, i3, 3, stride=2), bn(i3)
        s.c7, s.b6 = nn.Conv2d(i3, g3, 3, padding=1), bn(g3)
        s.c8 = nn.Conv2d(g2, g3, 1, stride=2)
        s.fc = nn.Linear(g3, 10)
    def forward(s, x):
        same2 = lambda t: F.pad(t, (0, 1, 0, 1))  # Keras 'same', stride 2, even size
        x = F.relu(s.b0(s.c0(x)))
        x = F.relu(x + s.b2(s.c2(F.relu(s.b1(s.c1(x))))))
        x = F.relu(s.c5(x) + s.b4(s.c4(F.relu(s.b3(s.c3(same2(x)))))))
        x = F.relu(s.c8(x) + s.b6(s.c7(F.relu(s.b5(s.c6(same2(x)))))))
        return s.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

m = ResNet8()
if a.init:
    import onnx, onnx.numpy_helper as nh
    g = onnx.load(a.init).graph
    T = {i.name: nh.to_array(i) for i in g.initializer}; N = {n.name: list(n.input) for n in g.node}
    def cp(p, name, tr=False):
        v = torch.from_numpy(np.array(T[name], dtype=np.float32)); v = v.t() if tr else v
        assert p.shape == v.shape, (name, p.shape, v.shape); p.data.copy_(v)
    sfx = lambda i: '' if i == 0 else f'_{i}'
    for i in range(9):
        k = N[f'conv2d{sfx(i)}/Conv']; c = getattr(m, f'c{i}'); cp(c.weight, k[1]); cp(c.bias, k[2])
    for i in range(7):
        k = N[f'batch_normalization{sfx(i)}/BatchNormalization']; b = getattr(m, f'b{i}')
        cp(b.weight, k[1]); cp(b.bias, k[2]); cp(b.running_mean, k[3]); cp(b.running_var, k[4])
    cp(m.fc.weight, N['dense/MatMul'][1], True); cp(m.fc.bias, N['dense/Add_1'][1])

def top1():
    m.eval(); ok = 0
    with torch.no_grad():
        for i in range(0, 10000, 1000): ok += (m(xte[i:i + 1000].float()).argmax(1) == yte[i:i + 1000]).sum().item()
    m.train(); return ok / 10000

print(json.dumps({'params': sum(p.numel() for p in m.parameters()), 'start_top1': top1(), 'torch': torch.__version__}), flush=True)
if a.epochs < 1: raise SystemExit(0)
opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.wd)
steps = a.epochs * (50000 // a.batch)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=steps, pct_start=0.15)
t0 = time.time()
for ep in range(a.epochs):
    perm = torch.randperm(50000); total = 0.0; n = 0
    for i in range(0, 50000 - a.batch + 1, a.batch):
        idx = perm[i:i + a.batch]; x = F.pad(xtr[idx].float(), (4, 4, 4, 4)); y = ytr[idx]
        ox = torch.randint(0, 9, (a.batch,)); oy = torch.randint(0, 9, (a.batch,)); flip = torch.rand(a.batch) < 0.5
        xs = torch.stack([(lambda t: t.flip(2) if flip[k] else t)(x[k, :, oy[k]:oy[k] + 32, ox[k]:ox[k] + 32]) for k in range(a.batch)])
        loss = F.cross_entropy(m(xs), y)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step(); total += loss.item(); n += 1
    print(json.dumps({'epoch': ep + 1, 'loss': round(total / n, 4), 'top1': top1(), 's': round(time.time() - t0)}), flush=True)
