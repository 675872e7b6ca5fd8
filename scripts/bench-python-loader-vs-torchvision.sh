#!/usr/bin/env bash
# kiln.Loader against torchvision's DataLoader (2 workers) in PyTorch, same transforms
# (RandomResizedCrop 224, flip, ColorJitter, normalize), batch 64, on a JPEG corpus; in turn, per
# repetition: the loading rate alone, a training step of examples/pytorch_loader.py's small CNN,
# and that model alone on one repeated batch (the rate a loader can at best let it reach).
# Usage: scripts/bench-python-loader-vs-torchvision.sh CORPUS [reps]
#   CORPUS: class folders of JPEGs, e.g. from ../shared/bench/make_jpeg_corpus.py
# Needs python3-torch and python3-torchvision (Debian) and a release build with the module.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:?usage: $0 CORPUS [reps]}
reps=${2:-3}
export PYTHONPATH=build/release/apps/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build/release/apps/kiln preprocess "$corpus" --store original --quiet -o "$work/corpus.h5"
run() { /usr/bin/python3 examples/pytorch_loader.py "$work/corpus.h5" --threads 2 "$@" | tail -n +2; }
for r in $(seq "$reps"); do
  echo "rep $r load   $(run --epochs 3 --load-only | tail -1)"
  echo "rep $r load   $(run --epochs 3 --load-only --torchvision "$corpus" | tail -1)"
  echo "rep $r train  $(run --epochs 2 | tail -1)"
  echo "rep $r train  $(run --epochs 2 --torchvision "$corpus" | tail -1)"
  echo "rep $r model  $(run --epochs 2 --compute-only | tail -1)"
done
