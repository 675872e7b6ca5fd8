"""PyTorch side of scripts/finetune-hymenoptera-vs-torch.sh.

pretrain: torchvision's resnet18 (10 classes) trained briefly on Fashion-MNIST, upscaled to
          64x64 and repeated over 3 channels (no ImageNet weights can be downloaded here), then
          exported to ONNX (eval mode) for `kiln import`.
finetune: the same pretrained network as a fixed feature extractor (PyTorch's transfer-learning
          tutorial on this very dataset): everything frozen in eval mode, a new 2-class fc
          trained on hymenoptera/train with a random 64x64 crop of the 72x72 centre and a flip,
          SGD; top-1 on hymenoptera/val (centre 64x64 crop) printed.

Usage: /usr/bin/python3 scripts/torch_finetune_hymenoptera.py pretrain OUT_DIR [--images N]
       /usr/bin/python3 scripts/torch_finetune_hymenoptera.py finetune OUT_DIR HYMENOPTERA_DIR
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision import transforms

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's, on 0..1: the normalization the filters learn on


def read_idx(path):
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def pretrain(args):
    torch.manual_seed(0)
    fm = "/usr/share/datasets/fashion-mnist"
    x = torch.from_numpy(read_idx(f"{fm}/train-images-idx3-ubyte.gz")[:args.images].copy())
    y = torch.from_numpy(read_idx(f"{fm}/train-labels-idx1-ubyte.gz")[:args.images].astype(np.int64))
    model = torchvision.models.resnet18(num_classes=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    start = time.time()
    for first in range(0, len(x), 64):
        batch = x[first:first + 64].float().div(255).unsqueeze(1)
        batch = F.interpolate(batch, size=64, mode="bilinear", align_corners=False)
        batch = ((batch - MEAN) / STD).repeat(1, 3, 1, 1)
        loss = F.cross_entropy(model(batch), y[first:first + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"pretrained on {len(x)} Fashion-MNIST images in {time.time() - start:.0f} s, "
          f"last batch loss {loss.item():.3f}")
    model.eval()
    torch.save(model.state_dict(), os.path.join(args.out_dir, "pretrained.pt"))
    torch.onnx.export(model, torch.zeros(1, 3, 64, 64), os.path.join(args.out_dir, "pretrained.onnx"),
                      opset_version=13, input_names=["pixels"], output_names=["logits"])


def finetune(args):
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(torch.load(os.path.join(args.out_dir, "pretrained.pt")))
    for p in model.parameters():
        p.requires_grad = False
    model.fc = torch.nn.Linear(512, 2)
    model.eval()  # the frozen batch norms on their running statistics, as kiln's frozen layers
    normalize = transforms.Normalize([MEAN] * 3, [STD] * 3)
    train_tf = transforms.Compose([transforms.Resize(72), transforms.CenterCrop(72),
                                   transforms.RandomCrop(64), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), normalize])
    val_tf = transforms.Compose([transforms.Resize(72), transforms.CenterCrop(64),
                                 transforms.ToTensor(), normalize])
    root = args.data
    train = torchvision.datasets.ImageFolder(os.path.join(root, "train"), train_tf)
    val = torchvision.datasets.ImageFolder(os.path.join(root, "val"), val_tf)
    loader = torch.utils.data.DataLoader(train, batch_size=16, shuffle=True)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(args.epochs):
        for images, labels in loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    correct = 0
    with torch.no_grad():
        for images, labels in torch.utils.data.DataLoader(val, batch_size=64):
            correct += (model(images).argmax(1) == labels).sum().item()
    print(f"torch fine-tuned top-1 {correct / len(val):.4f} ({correct}/{len(val)})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("stage", choices=["pretrain", "finetune"])
    parser.add_argument("out_dir")
    parser.add_argument("data", nargs="?")
    parser.add_argument("--images", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    pretrain(args) if args.stage == "pretrain" else finetune(args)


if __name__ == "__main__":
    main()
