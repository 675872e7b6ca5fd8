"""PyTorch peer of examples/fashion-mnist-resnet.json: the same ResNet-20, augmentation, optimizer
and schedule on Fashion-MNIST, so the two can be compared side by side.

Model: He et al. 2016's CIFAR ResNet-20 as kiln's zoo builds it (3x3 conv-BN stem, 3 stages of 3
basic blocks of 16/32/64 x --width filters, projection shortcut = 1x1 conv + BN where the shape
changes, global average pool, dense). BN momentum 0.1 (kiln's 0.9), eps 1e-5, convs without bias,
He-normal conv weights and Glorot-uniform dense weights, as kiln initializes them. (kiln pads a
strided 3x3 conv as "same" does, one pixel after; PyTorch one before and after: the shapes are the
same.)
Data: pixels normalized by the training set's mean and std; per sample, zero padding of --pad
pixels and a random crop back to 28x28 (kiln's pad_crop), a horizontal flip with p 0.5.
Training: SGD, momentum 0.9, Nesterov, L2 weight decay --weight-decay on every parameter (kiln's
optimizer.weight_decay), batch --batch, base rate --lr, cosine to 0 set before every step at the
fractional epoch, with a linear warm-up over the first --warmup epochs' steps (step s at
(s + 1) / warm-up steps of the rate: kiln's "cosine+warmup:W"), softmax cross-entropy with
--label-smoothing (PyTorch's own). --mixup A / --cutmix A mix each batch as kiln's mixup_cutmix
stage does: row i with row n - 1 - i, lambda ~ Beta(A, A) per row, cutmix with probability
--switch-prob when both are given, each row with probability --mix-prob (torchvision 0.14 has
neither, so it is written here).
Evaluation: the test set, single crop, after every epoch.

Usage (Debian's python3 with python3-torch):
    FM=/usr/share/datasets/fashion-mnist
    /usr/bin/python3 scripts/torch_fashion_mnist_resnet.py --data $FM --epochs 15 --threads 2
"""
import argparse
import gzip
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def conv_bn(cin, cout, kernel, stride):
    conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False)
    nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
    return nn.Sequential(conv, nn.BatchNorm2d(cout, momentum=0.1, eps=1e-5))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3, 1)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x)))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


def resnet20(width, classes=10):
    filters = [max(1, round(f * width)) for f in (16, 32, 64)]
    layers = [conv_bn(1, filters[0], 3, 1), nn.ReLU()]
    cin = filters[0]
    for stage, cout in enumerate(filters):
        for block in range(3):
            layers.append(BasicBlock(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    dense = nn.Linear(cin, classes)
    nn.init.xavier_uniform_(dense.weight)
    nn.init.zeros_(dense.bias)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), dense]
    return nn.Sequential(*layers)


def augment(x, pad, generator):
    """Each sample's own window of the zero-padded batch, then a flip with p 0.5."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None, None, None] + torch.arange(h)[None, None, :, None]).expand(n, 1, h,
                                                                                   w + 2 * pad)
    cols = (dx[:, None, None, None] + torch.arange(w)[None, None, None, :]).expand(n, 1, h, w)
    out = torch.gather(torch.gather(padded, 2, rows), 3, cols)
    flip = torch.rand(n, generator=generator) < 0.5
    out[flip] = out[flip].flip(3)
    return out


def rate(base, step, steps_per_epoch, epochs, warmup):
    r = base * (1 + math.cos(math.pi * step / (steps_per_epoch * epochs))) / 2
    ramp = warmup * steps_per_epoch
    return r * (step + 1) / ramp if step + 1 < ramp else r


def mix(x, y, classes, mixup, cutmix, switch_prob, prob, generator):
    """Each row i mixed (with probability prob) with row n - 1 - i; returns the mixed batch and
    its soft targets."""
    n, _, h, w = x.shape
    partner = torch.arange(n - 1, -1, -1)
    onehot = F.one_hot(y, classes).float()
    out, targets = x.clone(), onehot.clone()
    beta = {a: torch.distributions.Beta(a, a) for a in (mixup, cutmix) if a > 0}
    for i in range(n):
        j = partner[i].item()
        if i == j or torch.rand(1, generator=generator).item() >= prob:
            continue
        use_cutmix = cutmix > 0 and (mixup <= 0 or torch.rand(1, generator=generator).item() <
                                     switch_prob)
        lam = beta[cutmix if use_cutmix else mixup].sample().item()
        if use_cutmix:
            side = math.sqrt(1 - lam)
            bh, bw = int(h * side), int(w * side)
            cy = torch.randint(0, h, (1,), generator=generator).item()
            cx = torch.randint(0, w, (1,), generator=generator).item()
            y0, y1 = min(max(cy - bh // 2, 0), h), min(max(cy + bh // 2, 0), h)
            x0, x1 = min(max(cx - bw // 2, 0), w), min(max(cx + bw // 2, 0), w)
            out[i, :, y0:y1, x0:x1] = x[j, :, y0:y1, x0:x1]
            lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
        else:
            out[i] = lam * x[i] + (1 - lam) * x[j]
        targets[i] = lam * onehot[i] + (1 - lam) * onehot[j]
    return out, targets


def accuracy(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct / len(x)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder with the Fashion-MNIST IDX files")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--warmup", type=float, default=1)
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--mixup", type=float, default=0.0, help="mixup alpha (0: off)")
    ap.add_argument("--cutmix", type=float, default=0.0, help="cutmix alpha (0: off)")
    ap.add_argument("--switch-prob", type=float, default=0.5)
    ap.add_argument("--mix-prob", type=float, default=1.0, help="chance a row is mixed at all")
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def load(prefix):
        x = read_idx(os.path.join(args.data, f"{prefix}-images-idx3-ubyte")).astype(np.float32)
        y = read_idx(os.path.join(args.data, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    mean, std = xtr.mean().item(), xtr.std().item()
    model = resnet20(args.width)
    params = sum(p.numel() for p in model.parameters())
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, resnet20 width "
          f"{args.width}: {params} parameters", flush=True)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=args.weight_decay)
    generator = torch.Generator().manual_seed(args.seed)
    test = (xte - mean) / std
    start = time.perf_counter()
    steps_per_epoch = math.ceil(len(xtr) / args.batch)
    step = 0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=generator)
        t0 = time.perf_counter()
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            idx = order[i:i + args.batch]
            # Pad with black pixels (0) first, then normalize: as kiln's pad_crop.
            x = (augment(xtr[idx], args.pad, generator) - mean) / std
            target = ytr[idx]
            if args.mixup > 0 or args.cutmix > 0:
                x, target = mix(x, target, 10, args.mixup, args.cutmix, args.switch_prob,
                                args.mix_prob, generator)
            for group in opt.param_groups:
                group["lr"] = rate(args.lr, step, steps_per_epoch, args.epochs, args.warmup)
            step += 1
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), target, label_smoothing=args.label_smoothing)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        seconds = time.perf_counter() - t0
        print(f"epoch {epoch + 1}/{args.epochs}  loss {total / len(xtr):.4f}  test accuracy "
              f"{accuracy(model, test, yte):.4f}  {seconds:.1f} s  {len(xtr) / seconds:.0f} img/s",
              flush=True)
    print(f"# wall {time.perf_counter() - start:.1f} s (training and per-epoch test)")


if __name__ == "__main__":
    main()
