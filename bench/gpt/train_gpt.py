"""A small byte-level GPT trained on text that Debian ships (/usr/share/common-licenses), exported with torch.onnx.

Fixture for mc's transformer benchmarks and tests: a real trained language model whose perplexity moves when its
weights are quantized. Deterministic (seeded); writes into the folder given (a cache outside the repository):
  gpt.onnx            input_ids int64 [batch, sequence] -> logits float32 [batch, sequence, 256]
  train.bin valid.bin the byte streams (90 % / 10 % of the corpus, by file)
  calib/input_ids.npy int64 [512, CTX] windows of train.bin (calibration sequences, named after the model input)
  valid/input_ids.npy int64 [N, CTX+1] windows of valid.bin (perplexity: predict positions 1..CTX)
  meta.json           architecture, steps, final losses
Usage: /usr/bin/python3 bench/gpt/train_gpt.py OUT_DIR [--steps N] [--batch B] [--d D] [--layers L] [--random]
"""
import glob, json, math, os, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

out = sys.argv[1]
if '--random' in sys.argv:  # an untrained copy for structural tests: no training, same export
    sys.argv += ['--steps', '0']
steps = int(sys.argv[sys.argv.index('--steps') + 1]) if '--steps' in sys.argv else 800
BATCH = int(sys.argv[sys.argv.index('--batch') + 1]) if '--batch' in sys.argv else 16
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)
np.random.seed(0)
torch.set_num_threads(1)

files = sorted(f for f in glob.glob('/usr/share/common-licenses/*') if os.path.isfile(f))
data = [open(f, 'rb').read() for f in files]
cut = max(1, len(data) // 10)
valid = b''.join(data[:cut])
train = b''.join(data[cut:])
open(os.path.join(out, 'train.bin'), 'wb').write(train)
open(os.path.join(out, 'valid.bin'), 'wb').write(valid)

def arg(name, default):
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


VOCAB, D, LAYERS, HEADS, CTX = 256, arg('--d', 96), arg('--layers', 2), 4, 64
FF = 4 * D


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.q = nn.Linear(D, D)
        self.k = nn.Linear(D, D)
        self.v = nn.Linear(D, D)
        self.o = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.up = nn.Linear(D, FF)
        self.down = nn.Linear(FF, D)

    def forward(self, x, mask):
        b, t, _ = x.shape
        h = self.ln1(x)
        q = self.q(h).view(b, t, HEADS, D // HEADS).transpose(1, 2)
        k = self.k(h).view(b, t, HEADS, D // HEADS).transpose(1, 2)
        v = self.v(h).view(b, t, HEADS, D // HEADS).transpose(1, 2)
        a = (q @ k.transpose(-2, -1)) / math.sqrt(D // HEADS) + mask[:t, :t]
        y = (F.softmax(a, dim=-1) @ v).transpose(1, 2).reshape(b, t, D)
        x = x + self.o(y)
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(CTX, D)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln = nn.LayerNorm(D)
        self.head = nn.Linear(D, VOCAB, bias=False)
        self.register_buffer('mask', torch.triu(torch.full((CTX, CTX), -1e9), diagonal=1))

    def forward(self, ids):
        t = ids.shape[1]
        pos = torch.arange(t, device=ids.device)
        x = self.tok(ids) + self.pos(pos)
        for blk in self.blocks:
            x = blk(x, self.mask)
        return self.head(self.ln(x))


model = GPT()
opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
tr = torch.tensor(np.frombuffer(train, dtype=np.uint8).astype(np.int64))
va = torch.tensor(np.frombuffer(valid, dtype=np.uint8).astype(np.int64))


def batch(src, n):
    i = torch.randint(0, len(src) - CTX - 1, (n,))
    x = torch.stack([src[j:j + CTX] for j in i])
    y = torch.stack([src[j + 1:j + CTX + 1] for j in i])
    return x, y


t0 = time.time()
for step in range(steps):
    lr = 3e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
    for g in opt.param_groups:
        g['lr'] = lr
    x, y = batch(tr, BATCH)
    loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 100 == 0:
        print(f'step {step} loss {loss.item():.3f} {time.time() - t0:.0f}s', flush=True)

model.eval()
rng = np.random.default_rng(1)
starts = rng.integers(0, len(train) - CTX - 1, 512)
calib = np.stack([np.frombuffer(train[s:s + CTX], dtype=np.uint8) for s in starts]).astype(np.int64)
vstarts = np.arange(0, len(valid) - CTX - 1, CTX)
vwin = np.stack([np.frombuffer(valid[s:s + CTX + 1], dtype=np.uint8) for s in vstarts]).astype(np.int64)
os.makedirs(os.path.join(out, 'calib'), exist_ok=True)
os.makedirs(os.path.join(out, 'valid'), exist_ok=True)
np.save(os.path.join(out, 'calib', 'input_ids.npy'), calib)
np.save(os.path.join(out, 'valid', 'input_ids.npy'), vwin)
with torch.no_grad():
    vt = torch.tensor(vwin)
    logits = model(vt[:, :CTX])
    vloss = F.cross_entropy(logits.reshape(-1, VOCAB), vt[:, 1:].reshape(-1)).item()
print(f'valid loss {vloss:.4f} perplexity {math.exp(vloss):.3f}', flush=True)
torch.onnx.export(model, torch.zeros(1, CTX, dtype=torch.int64), os.path.join(out, 'gpt.onnx'), input_names=['input_ids'],
                  output_names=['logits'], dynamic_axes={'input_ids': {0: 'batch', 1: 'sequence'}, 'logits': {0: 'batch', 1: 'sequence'}},
                  opset_version=17)
json.dump({'vocab': VOCAB, 'd': D, 'layers': LAYERS, 'heads': HEADS, 'ff': FF, 'ctx': CTX, 'steps': steps, 'batch': BATCH,
           'train_bytes': len(train), 'valid_bytes': len(valid), 'valid_loss': vloss, 'valid_perplexity': math.exp(vloss),
           'torch': torch.__version__, 'seconds': time.time() - t0}, open(os.path.join(out, 'meta.json'), 'w'), indent=1)
