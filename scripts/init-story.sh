#!/usr/bin/env bash
# The lecture's initialization story (docs/tuning.md: Looking inside a run): the 10-layer ReLU MLP of
# examples/deep-mlp.json trained on Fashion-MNIST with each initializer — zeros, N(0, 0.01),
# Glorot, He — for the same 2 epochs, diagnostics every 50 steps. Prints, per initializer, the
# activation standard deviation after ReLUs 1, 3, 5, 7 and 9 at the first step and
# the validation accuracy at the end; the warnings kiln printed are in OUT/init-*.txt.
#   bash scripts/init-story.sh [OUT]      (default runs/init-story; $KILN: the binary)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/init-story}
kiln=${KILN:-build/release/apps/kiln}
data=/usr/share/datasets/fashion-mnist
mkdir -p "$out"
[[ -f $out/train.h5 ]] || "$kiln" preprocess "$data/train-images-idx3-ubyte.gz" \
  --labels "$data/train-labels-idx1-ubyte.gz" -o "$out/train.h5"

echo "| init | relu_1 | relu_3 | relu_5 | relu_7 | relu_9 | val_accuracy |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for init in zeros normal glorot_uniform he_normal; do
  sed "s/\"he_normal\"/\"$init\"/g" examples/deep-mlp.json > "$out/$init.json"
  "$kiln" train "$out/train.h5" --config "$out/$init.json" --run-dir "$out/init-$init" \
    > "$out/init-$init.txt" 2>&1
  stds=$(awk -F, '$2 == 1 && $4 ~ /^relu_[13579]$/ { printf "| %.3g ", $7 }' \
    "$out/init-$init/diagnostics.csv")
  accuracy=$(awk -F, 'END { print $5 }' "$out/init-$init/log.csv")
  echo "| $init $stds| $accuracy |"
done
