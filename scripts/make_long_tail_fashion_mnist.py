"""Fashion-MNIST with a long tail: class k keeps a fraction 0.05^(k/9) of its training images,
from all of class 0 down to 5% of class 9 (300 of 6,000), chosen with a fixed seed. Writes IDX
files that `kiln preprocess` reads; the test set stays balanced. For docs/benchmarks.md's
imbalance figures: plain training against loss.class_weights "auto" and data.sampler "balanced",
judged by macro F1 on the balanced test set.

Usage: /usr/bin/python3 scripts/make_long_tail_fashion_mnist.py OUT_DIR [--seed 1]
"""
import argparse
import gzip
import os
import struct

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(">" + "I" * array.ndim,
                                                                        *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    images = read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))
    rng = np.random.default_rng(a.seed)
    keep = []
    for k in range(10):
        rows = np.flatnonzero(labels == k)
        count = int(round(len(rows) * 0.05 ** (k / 9)))
        keep.append(rng.choice(rows, count, replace=False))
        print(f"class {k}: {count} of {len(rows)}")
    keep = np.sort(np.concatenate(keep))
    os.makedirs(a.out, exist_ok=True)
    write_idx(os.path.join(a.out, "train-images-idx3-ubyte.gz"), images[keep])
    write_idx(os.path.join(a.out, "train-labels-idx1-ubyte.gz"), labels[keep])
    print(f"{len(keep)} training images in {a.out}")


if __name__ == "__main__":
    main()
