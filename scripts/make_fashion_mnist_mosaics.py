"""Fashion-MNIST mosaics: 2x2 grids of items, 56x56 pixels, for kiln's multi-label and
regression benchmarks (docs/benchmarks.md). Each tile holds a random item of the split, or stays
empty with probability --empty; the same images get two lists:
  multi_label.csv  path,labels   the set of classes present (space separated; may be empty)
  count.csv        path,count    how many tiles hold an item (0..4)
Train mosaics draw from the training images, test mosaics from the test images only.

Usage: /usr/bin/python3 scripts/make_fashion_mnist_mosaics.py OUT_DIR [--train 20000]
           [--test 4000] [--empty 0.2] [--seed 1]
"""
import argparse
import gzip
import os
import struct

from PIL import Image
import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"
NAMES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
         "boot"]


def read_idx(path):
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    ndim = data[3]
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def write_split(out, split, images, labels, count, empty, rng):
    folder = os.path.join(out, split)
    os.makedirs(folder, exist_ok=True)
    multi, counts = ["path,labels"], ["path,count"]
    for n in range(count):
        mosaic = np.zeros((56, 56), np.uint8)
        present = set()
        items = 0
        for tile in range(4):
            if rng.random() < empty:
                continue
            k = rng.integers(len(images))
            y, x = 28 * (tile // 2), 28 * (tile % 2)
            mosaic[y:y + 28, x:x + 28] = images[k]
            present.add(NAMES[labels[k]])
            items += 1
        name = f"{split}/{n:06d}.png"
        Image.fromarray(mosaic).save(os.path.join(out, name))
        multi.append(f"{name},{' '.join(sorted(present))}")
        counts.append(f"{name},{items}")
    for file, rows in ((f"{split}-multi_label.csv", multi), (f"{split}-count.csv", counts)):
        with open(os.path.join(out, file), "w") as fh:
            fh.write("\n".join(rows) + "\n")
    print(f"{count} {split} mosaics in {folder}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--test", type=int, default=4000)
    ap.add_argument("--empty", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    for split, prefix, count in (("train", "train", a.train), ("test", "t10k", a.test)):
        images = read_idx(os.path.join(DATA, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(DATA, f"{prefix}-labels-idx1-ubyte.gz"))
        write_split(a.out, split, images, labels, count, a.empty, rng)


if __name__ == "__main__":
    main()
