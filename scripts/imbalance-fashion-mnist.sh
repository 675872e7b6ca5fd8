#!/usr/bin/env bash
# Fashion-MNIST with a long tail (scripts/make_long_tail_fashion_mnist.py: class k keeps
# 0.05^(k/9) of its images), trained three ways with the main job's CNN (examples/fashion-mnist.json)
# and judged by macro F1 on the balanced test set: plain, loss.class_weights "auto", and
# data.sampler "balanced". For docs/benchmarks.md.
# usage: scripts/imbalance-fashion-mnist.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-5}
kiln=build/release/apps/kiln
data=/usr/share/datasets/fashion-mnist
out=runs/long-tail
classes="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
/usr/bin/python3 scripts/make_long_tail_fashion_mnist.py "$out" >/dev/null
"$kiln" preprocess "$out/train-images-idx3-ubyte.gz" --labels "$out/train-labels-idx1-ubyte.gz" \
  --class-names "$classes" -o "$out/train.h5" >/dev/null
"$kiln" preprocess "$data/t10k-images-idx3-ubyte.gz" --labels "$data/t10k-labels-idx1-ubyte.gz" \
  --class-names "$classes" -o "$out/test.h5" >/dev/null
for variant in plain weights balanced; do
  extra=()
  [ "$variant" = weights ] && extra=(--set loss.class_weights=auto)
  [ "$variant" = balanced ] && extra=(--set data.sampler=balanced)
  "$kiln" train "$out/train.h5" --config examples/fashion-mnist.json --epochs "$epochs" \
    -o "$out/$variant.h5" "${extra[@]}" >"$out/$variant.log" 2>&1
  echo "== $variant"
  "$kiln" evaluate "$out/$variant.h5" "$out/test.h5" --per-class | grep -E "images|^Ankle|^T-shirt|^Bag"
done
