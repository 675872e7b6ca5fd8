#!/bin/sh
# Multi-label and regression on Fashion-MNIST mosaics (docs/benchmarks.md): builds 2x2 mosaics
# (scripts/make_fashion_mnist_mosaics.py), preprocesses them with --task multi_label and
# --task regression, trains examples/fashion-mnist-mosaics.json and examples/fashion-mnist-count.json
# and evaluates both on mosaics built from the test set only, single crop and 10 crops.
# Usage: sh scripts/mosaics.sh [KILN]   (default: build/release/apps/kiln)
set -eu
KILN=${1:-build/release/apps/kiln}
OUT=runs/mosaics
/usr/bin/python3 scripts/make_fashion_mnist_mosaics.py "$OUT/images"
# The test lists name the classes in the training order, whatever classes they happen to hold.
CLASSES=$(
  tail -n +2 "$OUT/images/train-multi_label.csv" | cut -d, -f2 | tr ' ' '\n' | sort -u | \
  grep -v '^$' | paste -sd, -)
for split in train test; do
  "$KILN" preprocess "$OUT/images/$split-multi_label.csv" --task multi_label --class-names "$CLASSES" \
    --size 56x56 --channels 1 -o "$OUT/ml-$split.h5" --quiet
  "$KILN" preprocess "$OUT/images/$split-count.csv" --task regression \
    --size 56x56 --channels 1 -o "$OUT/count-$split.h5" --quiet
done
"$KILN" train --config examples/fashion-mnist-mosaics.json
"$KILN" evaluate "$OUT/multi-label.h5" "$OUT/ml-test.h5" --crops 10 --compare --per-class
"$KILN" train --config examples/fashion-mnist-count.json
"$KILN" evaluate "$OUT/count.h5" "$OUT/count-test.h5" --crops 10 --compare
