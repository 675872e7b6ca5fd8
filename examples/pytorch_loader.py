"""Train a PyTorch model on batches from kiln's pipeline.

kiln.Loader replaces torch.utils.data.DataLoader: decoding, augmentation and normalization run in
kiln's C++ flow graph on its own threads, and each batch arrives as NumPy arrays that torch wraps
without a copy. The same seed gives the same batches as `kiln train` would see.

    kiln preprocess photos/ --short-side 256 --store original -o photos.h5
    python3 examples/pytorch_loader.py photos.h5 --epochs 2
    python3 examples/pytorch_loader.py photos.h5 --torchvision photos/   # the same, from a DataLoader

(Debian's python3 with python3-torch; the kiln module installed by `cmake --install`, or
PYTHONPATH=build/release/apps/python.)
"""
import argparse
import time

import h5py
import torch
from torch import nn

import kiln

# The ResNet recipe as torchvision writes it (RandomResizedCrop, flip, ColorJitter, Normalize),
# in kiln's stage list; normalization comes from the dataset's fitted statistics.
AUGMENT = [{"type": "random_resized_crop", "size": 224}, {"type": "horizontal_flip"},
           {"type": "color_jitter"}]


def small_cnn(classes):
    """A small torchvision-style CNN: cheap enough that the loader decides the step rate."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 5, stride=4, padding=2), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, classes))


def kiln_batches(path, batch_size, threads, seed):
    loader = kiln.Loader(path, augment=AUGMENT, batch_size=batch_size, threads=threads, seed=seed)

    def epoch(e):
        loader.set_epoch(e)
        for images, labels in loader:
            yield torch.from_numpy(images), torch.from_numpy(labels).long()
    return epoch


def torchvision_batches(folder, batch_size, workers):
    from torchvision import datasets, transforms
    transform = transforms.Compose([
        transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
        transforms.ColorJitter(0.4, 0.4, 0.4), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    loader = torch.utils.data.DataLoader(
        datasets.ImageFolder(folder, transform), batch_size=batch_size, shuffle=True,
        num_workers=workers, persistent_workers=workers > 0)
    return lambda e: iter(loader)


def len_of(args):
    with h5py.File(args.data) as f:
        return len(f["labels"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", help="kiln dataset (.h5 from kiln preprocess)")
    parser.add_argument("--torchvision", metavar="FOLDER",
                        help="read this class folder through torchvision's DataLoader instead")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="kiln threads / loader workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load-only", action="store_true", help="time the batches alone")
    parser.add_argument("--compute-only", action="store_true",
                        help="train on the first batch over and over: the model's own step rate")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    with h5py.File(args.data) as f:
        classes = len(f.attrs["class_names"])
    batches = (torchvision_batches(args.torchvision, args.batch_size, args.threads)
               if args.torchvision else
               kiln_batches(args.data, args.batch_size, args.threads, args.seed))
    model = small_cnn(classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    if args.compute_only:
        first = next(iter(batches(0)))
        steps = -(-len_of(args) // args.batch_size)
        batches = lambda e: (first for _ in range(steps))  # noqa: E731
    for epoch in range(args.epochs):
        start, seen, loss_sum, correct = time.perf_counter(), 0, 0.0, 0
        for images, labels in batches(epoch):
            seen += len(labels)
            if args.load_only:
                continue
            optimizer.zero_grad()
            logits = model(images)
            loss = loss_fn(logits, labels)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(labels)
            correct += (logits.argmax(1) == labels).sum().item()
        seconds = time.perf_counter() - start
        source = ("the model alone" if args.compute_only else
                  "torchvision" if args.torchvision else "kiln")
        line = f"{source} epoch {epoch + 1}: {seen} images, {seen / seconds:.0f} img/s"
        if not args.load_only:
            line += f", loss {loss_sum / seen:.4f}, accuracy {correct / seen:.4f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
