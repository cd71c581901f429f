"""Exports torchvision ResNet18 and MobileNetV2 (random init, weights=None, eval mode) to ONNX with torch.onnx's
defaults (BatchNorm folded into the convs, constant folding on). A bench fixture for `mc compress` speed; cached
outside the repository by the caller.

usage: /usr/bin/python3 export_torchvision.py <out dir> [--decay]

--decay rescales every conv / linear weight to a decaying spectrum (s_i = s_1 / (i+1) on the output-channel
unfolding), closer to trained weights than random init's flat spectrum. Prints one JSON line
{file: seconds, ...}.
"""
import json, os, sys, time
import torch
import torchvision


def decay_(module):
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Linear) or (isinstance(m, torch.nn.Conv2d) and m.groups == 1):
                w = m.weight.reshape(m.weight.shape[0], -1)
                u, s, vh = torch.linalg.svd(w, full_matrices=False)
                s = s[0] / torch.arange(1, s.numel() + 1, dtype=s.dtype)
                m.weight.copy_(((u * s) @ vh).reshape(m.weight.shape))


def main():
    out = sys.argv[1]
    decay = '--decay' in sys.argv[2:]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    times = {}
    for name in ('resnet18', 'mobilenet_v2'):
        model = getattr(torchvision.models, name)(weights=None).eval()
        if decay:
            decay_(model)
        file = os.path.join(out, f'{name}{"-decay" if decay else ""}.onnx')
        t0 = time.time()
        tmp = f'{file}.tmp{os.getpid()}'
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), tmp, opset_version=13,
                          input_names=['input'], output_names=['logits'])
        os.replace(tmp, file)
        times[os.path.basename(file)] = time.time() - t0
    print(json.dumps(times))


if __name__ == '__main__':
    main()
