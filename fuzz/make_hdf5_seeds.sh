#!/usr/bin/env bash
# Writes the seeds of the dataset and model fuzz targets into OUT/dataset and OUT/model: small
# files made by kiln itself from the test fixture's images (HDF5 files are generated, not kept in
# the repository). The ctest fixture fuzz.hdf5_seeds runs this before the replay tests.
# usage: fuzz/make_hdf5_seeds.sh KILN OUT
set -euo pipefail
kiln=${1:?usage: $0 KILN OUT}
out=${2:?usage: $0 KILN OUT}
imgs=$(cd "$(dirname "$0")/.." && pwd)/tests/fixtures/model-v1/imgs
mkdir -p "$out/dataset" "$out/model"
"$kiln" preprocess "$imgs" --size 8x8 -o "$out/dataset/fixed.h5" --quiet
"$kiln" preprocess "$imgs" --short-side 8 --store jpeg -o "$out/dataset/ragged-jpeg.h5" --quiet
"$kiln" train "$out/dataset/fixed.h5" -o "$out/model/chain.h5" --epochs 1 --batch-size 8 --set \
  'model.layers=[{"type": "conv2d", "filters": 2}, {"type": "relu"}, {"type": "dense", "units": 3}]' \
  >/dev/null
"$kiln" train "$out/dataset/fixed.h5" -o "$out/model/graph.h5" --epochs 1 --batch-size 8 --set \
  'model.layers=[{"type": "conv2d", "name": "a", "filters": 2, "padding": "same"},
   {"type": "batch_norm"}, {"type": "add", "inputs": ["a", "batch_norm_1"]},
   {"type": "global_avg_pool2d"}, {"type": "dense", "units": 3}]' >/dev/null
