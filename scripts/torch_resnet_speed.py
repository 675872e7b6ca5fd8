"""PyTorch peer of `kiln bench train` for the ResNets and torchvision's networks, at any input size.

  resnet20  He et al. 2016's CIFAR ResNet-20 (16/32/64 channels, 1x1 conv + BN shortcuts where
            the shape changes), the network kiln's zoo builds under that name
  any other torchvision.models builder (resnet18, resnet50, mobilenet_v2, ...) with
            num_classes=CLASSES, as people fine-tune them; kiln's side is its zoo model
            (resnet18) or the same network through kiln import (bench-imported-vs-torch.sh)

Synthetic N(0, 1) input and uniform labels; a training step is forward + softmax cross-entropy +
backward + SGD (lr 0.01, momentum 0.9), inference a no_grad eval forward. After --warmup steps, it
times --windows windows of about --window-s seconds each and prints the median images/s in the
form scripts/bench-train-vs-torch.sh reads:  "torch <net> train <img/s>".

Usage: /usr/bin/python3 scripts/torch_resnet_speed.py --net resnet18 --input 3 64 64 --batch 32
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet20(channels, classes):
    layers = [nn.Conv2d(channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range(3):
            layers.append(BasicBlock(cin, cout, 2 if stage > 0 and block == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes)]
    return nn.Sequential(*layers)


def build(net, channels, classes):
    if net == "resnet20":
        return resnet20(channels, classes)
    assert channels == 3, f"torchvision's {net} takes 3 channels"
    return getattr(torchvision.models, net)(num_classes=classes)


def rates(step, batch, warmup, windows, window_s):
    for _ in range(warmup):
        step()
    start, calibration = time.perf_counter(), 0
    while time.perf_counter() - start < 0.5:
        step()
        calibration += 1
    steps = max(3, int(window_s / ((time.perf_counter() - start) / calibration)))
    result = []
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        result.append(steps * batch / (time.perf_counter() - start))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", required=True, help="resnet20, or a torchvision.models builder")
    ap.add_argument("--input", type=int, nargs=3, required=True, metavar=("C", "H", "W"))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--window-s", type=float, default=2.0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = build(a.net, a.input[0], a.classes)
    x = torch.randn(a.batch, *a.input)
    y = torch.randint(0, a.classes, (a.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def train():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def infer():
        with torch.no_grad():
            model(x)

    model.train()
    train_rates = rates(train, a.batch, a.warmup, a.windows, a.window_s)
    model.eval()
    infer_rates = rates(infer, a.batch, a.warmup, a.windows, a.window_s)
    shape = "x".join(map(str, a.input))
    print(f"torch {a.net} {shape} batch {a.batch} train {statistics.median(train_rates):.1f} "
          f"infer {statistics.median(infer_rates):.1f} img/s")


if __name__ == "__main__":
    main()
