#!/usr/bin/env bash
# Fine-tuning side by side: a torchvision ResNet-18 pretrained briefly in PyTorch (Fashion-MNIST
# upscaled to 64x64, see scripts/torch_finetune_hymenoptera.py), then its head retrained on
# hymenoptera (ants vs bees) by PyTorch and by kiln (kiln import + kiln train --fine-tune with
# everything up to the head frozen). Same network, data, crops, optimizer and epochs.
# usage: scripts/finetune-hymenoptera-vs-torch.sh [HYMENOPTERA_DIR] [EPOCHS] [LR]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/hymenoptera}
epochs=${2:-15}
lr=${3:-0.001}
kiln=build/release/apps/kiln
out=runs/finetune-hymenoptera
mkdir -p "$out"
py=/usr/bin/python3

[ -f "$out/pretrained.onnx" ] || $py scripts/torch_finetune_hymenoptera.py pretrain "$out"
$kiln import "$out/pretrained.onnx" -o "$out/pretrained.h5" --mean 0.2860 --std 0.3530 \
  --resize 72 --crop 64 | tail -1
for split in train val; do
  [ -f "$out/$split.h5" ] || $kiln preprocess "$data/$split" --size 72x72 -o "$out/$split.h5" >/dev/null
done
$kiln train "$out/train.h5" -o "$out/kiln.h5" --fine-tune "$out/pretrained.h5" --freeze flatten \
  --augment '[{"type": "scale_crop", "size": 64, "scale_range": [72, 72]},
              {"type": "horizontal_flip", "p": 0.5}]' \
  --optimizer sgd --lr "$lr" --epochs "$epochs" --batch-size 16 | grep -E "Fine-tuning|epoch $epochs/"
$kiln evaluate "$out/kiln.h5" "$out/val.h5" | grep -i "top-1\|accuracy" | head -2
$py scripts/torch_finetune_hymenoptera.py finetune "$out" "$data" --epochs "$epochs" --lr "$lr"
