#!/usr/bin/env bash
# The JPEG training pipeline, side by side in one run on the same 2 cores:
#   kiln    preprocess --store original (JPEG bytes kept as they are), then kiln bench pipeline:
#           decode (TurboJPEG) -> stages -> normalize + pack -> batches of 64, 2 threads
#             scale: scale_crop 224 [256, 480] -> horizontal_flip -> pca_lighting (ResNet, issue 4)
#             rrc:   random_resized_crop 224 -> horizontal_flip -> color_jitter -> pca_lighting
#   peer    ../shared/bench/torchvision_augment.py resnet+pca (RandomResizedCrop, flip, ColorJitter,
#           PCA lighting, Normalize), DataLoader with 2 workers, batch 64
#   limit   ../shared/bench/decode_limit.cpp built with TurboJPEG: decode only, 2 threads
# Usage: scripts/bench-pipeline-vs-torchvision.sh CORPUS [reps]
#   CORPUS from: /usr/bin/python3 ../shared/bench/make_jpeg_corpus.py --out /tmp/kiln-bench/jpeg/train --n 1000 --seed 1234
# Needs python3-torch and python3-torchvision (Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:?usage: $0 CORPUS [reps]}
reps=${2:-3}
kiln=build/release/apps/kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
limit=$work/decode_limit_tj
bash scripts/build-decode-limit.sh "$limit"
"$kiln" preprocess "$corpus" --store original --quiet -o "$work/corpus.h5"
# fb.resnet.torch's ImageNet PCA in kiln's convention (standard deviations on the 0..255 scale).
pca='{"type": "pca_lighting", "sigma": 0.1, "eigenvalues": [55.46, 4.79, 1.15],
      "eigenvectors": [[-0.5675, -0.5808, -0.5836], [0.7192, -0.0045, -0.6948], [0.4009, -0.8140, 0.4203]]}'
scale="[{\"type\": \"scale_crop\", \"size\": 224, \"scale_range\": [256, 480]}, {\"type\": \"horizontal_flip\"}, $pca]"
rrc="[{\"type\": \"random_resized_crop\", \"size\": 224}, {\"type\": \"horizontal_flip\"}, {\"type\": \"color_jitter\"}, $pca]"
for r in $(seq "$reps"); do
  echo "rep $r: kiln scale  $("$kiln" bench pipeline "$work/corpus.h5" --augment "$scale" --batch-size 64 --threads 2 --epochs 2 | tail -1)"
  echo "rep $r: kiln rrc    $("$kiln" bench pipeline "$work/corpus.h5" --augment "$rrc" --batch-size 64 --threads 2 --epochs 2 | tail -1)"
done
/usr/bin/python3 ../shared/bench/torchvision_augment.py "$corpus" --pipelines resnet+pca --workers 2 \
  --reps "$reps" --epochs 2 | grep SUMMARY
"$limit" "$corpus" "$reps" 2 | sed -n '/# summary/,$p'
