#!/usr/bin/env bash
# Imported torchvision networks in kiln against the same networks in PyTorch, side by side: each
# builder exported by PyTorch (tests/io/export_torchvision.py), read by `kiln import`, then timed
# in turn by `kiln bench train --model-file` and scripts/torch_resnet_speed.py on the same batch
# and threads (training step and inference; median of timed windows each).
# Usage: scripts/bench-imported-vs-torch.sh [size] [batch] [builders...]
#        (defaults: 224 16 mobilenet_v2 resnet50; needs python3-torch and python3-torchvision)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-224}
batch=${2:-16}
shift $(( $# > 2 ? 2 : $# ))
builders=("${@:-mobilenet_v2 resnet50}")
kiln=build/release/apps/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for net in ${builders[@]}; do
  /usr/bin/python3 tests/io/export_torchvision.py "$net" "$work" --batch 1 --size "$size" > /dev/null
  "$kiln" import "$work/$net.onnx" -o "$work/$net.h5" > /dev/null
  echo "== $net  3x${size}x${size}  batch $batch  2 threads"
  "$kiln" bench train --model-file "$work/$net.h5" --batch "$batch" --threads 2 --windows 5 \
      | grep -E "^(train|infer)" | sed "s/^/kiln  /"
  /usr/bin/python3 scripts/torch_resnet_speed.py --net "$net" --input 3 "$size" "$size" \
      --batch "$batch" --classes 1000 --threads 2
done
