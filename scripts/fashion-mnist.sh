#!/usr/bin/env bash
# kiln's main job on Fashion-MNIST (Debian's dataset-fashion-mnist package):
# install → build the kiln binary (Release) → kiln preprocess → kiln train (with augmentation) →
# kiln evaluate (single crop and 10-crop). It installs and builds only what kiln runs; the tests,
# the Python module and the benchmarks come with scripts/run-tests.sh.
# Outputs go to $KILN_RUN_DIR (default: runs/fashion-mnist). Extra arguments go to `kiln train`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
# The release preset with the tests off, so GoogleTest need not be installed; the binary is the
# one scripts/run-tests.sh builds and tests, with the same flags.
cmake --preset release -DKILN_BUILD_TESTS=OFF -DKILN_BUILD_BENCHMARKS=OFF -DKILN_PYTHON=OFF
cmake --build --preset release --target kiln

kiln=build/release/apps/kiln
data=/usr/share/datasets/fashion-mnist
run=${KILN_RUN_DIR:-runs/fashion-mnist}
classes="T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"
mkdir -p "$run"

"$kiln" preprocess "$data/train-images-idx3-ubyte.gz" --labels "$data/train-labels-idx1-ubyte.gz" \
  --class-names "$classes" -o "$run/train.h5"
"$kiln" preprocess "$data/t10k-images-idx3-ubyte.gz" --labels "$data/t10k-labels-idx1-ubyte.gz" \
  --class-names "$classes" -o "$run/test.h5"
# examples/fashion-mnist.json: the CNN, its augmentation, optimizer and schedule.
"$kiln" train "$run/train.h5" --config examples/fashion-mnist.json -o "$run/model.h5" "$@"
echo "test set, single crop and 10 crops (corners, centre, their mirrors; probabilities averaged):"
"$kiln" evaluate "$run/model.h5" "$run/test.h5" --crops 10 --compare
